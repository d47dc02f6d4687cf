"""AdaBelief: Adam whose step is scaled by the belief in the gradient, the variance of g around its
running mean, instead of the gradient's second moment (Zhuang et al. 2020, Algorithm 2).

    m <- b1 m + (1 - b1) g
    s <- b2 s + (1 - b2) (g - m)^2 + eps
    x <- x - lr (m / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps)

The default eps of 1e-16 is the authors' (adabelief-pytorch).

Reference: J. Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
Gradients", NeurIPS 2020, arXiv:2010.07468.
"""

import keras
from keras import ops

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(beta_1="[0, 1)", beta_2="[0, 1)", epsilon="> 0")
class AdaBelief(keras.optimizers.Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-16, name="adabelief", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._beliefs = self.add_optimizer_variables(var_list, ["momentum", "belief"])

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(gradient, dtype)
        t = ops.cast(self.iterations + 1, dtype)
        b1, b2, eps = (ops.convert_to_tensor(value, dtype) for value in (self.beta_1, self.beta_2, self.epsilon))
        index = self._get_variable_index(variable)
        m, s = self._momentums[index], self._beliefs[index]
        self.assign(m, b1 * m + (1 - b1) * g)
        self.assign(s, b2 * s + (1 - b2) * ops.square(g - m) + eps)
        m_hat = m / (1 - ops.power(b1, t))
        s_hat = s / (1 - ops.power(b2, t))
        self.assign_sub(variable, lr * m_hat / (ops.sqrt(s_hat) + eps))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
