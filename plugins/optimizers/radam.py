"""RAdam: Adam with the variance of its adaptive learning rate rectified (Liu et al. 2019).

With g the gradient at step t, PyTorch's `torch.optim.RAdam` rule and defaults:

    m <- b1 m + (1 - b1) g                   v <- b2 v + (1 - b2) g^2
    m_hat = m / (1 - b1^t)
    rho_inf = 2 / (1 - b2) - 1               rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
    if rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                   x <- x - lr m_hat r sqrt(1 - b2^t) / (sqrt(v) + eps)
    else:          x <- x - lr m_hat        (too few steps for a reliable variance: momentum SGD)

Weight decay is Keras' decoupled `weight_decay` (PyTorch's `decoupled_weight_decay=True`).

Reference: L. Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020,
arXiv:1908.03265.
"""

import keras
from keras import ops

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(beta_1="[0, 1)", beta_2="[0, 1)", epsilon="> 0")
class RAdam(keras.optimizers.Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, name="radam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ["momentum", "velocity"])

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(gradient, dtype)
        t = ops.cast(self.iterations + 1, dtype)
        b1, b2 = ops.convert_to_tensor(self.beta_1, dtype), ops.convert_to_tensor(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign(m, b1 * m + (1 - b1) * g)
        self.assign(v, b2 * v + (1 - b2) * g * g)

        m_hat = m / (1 - ops.power(b1, t))
        correction_2 = 1 - ops.power(b2, t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * ops.power(b2, t) / correction_2
        # The square root's argument is negative when rho_t <= 5, where the other branch is taken.
        rectifier = ops.sqrt(
            ops.maximum((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.0)
        )
        adaptive = ops.sqrt(correction_2) / (ops.sqrt(v) + ops.convert_to_tensor(self.epsilon, dtype))
        self.assign_sub(variable, lr * ops.where(rho_t > 5, m_hat * rectifier * adaptive, m_hat))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
