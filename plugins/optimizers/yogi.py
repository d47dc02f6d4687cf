"""Yogi: Adam whose second moment moves additively, by the sign of its error, so it cannot grow or
forget too fast (Zaheer et al. 2018, Algorithm 2).

    m <- b1 m + (1 - b1) g
    v <- v - (1 - b2) sign(v - g^2) g^2          (v starts at initial_accumulator_value)
    x <- x - lr m / (sqrt(v) + eps)

Defaults are the paper's: lr 0.01, eps 1e-3, v0 1e-6. The paper's Algorithm 2 has no bias correction;
TensorFlow Addons' `tfa.optimizers.Yogi` (and optax's) scaled the step by sqrt(1 - b2^t) / (1 - b1^t) at step
t = 1, 2, ... as Adam does: `bias_correction=true` gives that rule.

Reference: M. Zaheer et al., "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018.
"""

import keras
from keras import ops

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    beta_1="[0, 1)",
    beta_2="[0, 1)",
    epsilon="> 0",
    initial_accumulator_value=">= 0",
)
class Yogi(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-3,
        initial_accumulator_value=1e-6,
        bias_correction=False,
        name="yogi",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.initial_accumulator_value, self.bias_correction = initial_accumulator_value, bias_correction

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ["momentum", "velocity"])
        for velocity in self._velocities:
            self.assign(velocity, ops.full_like(velocity, self.initial_accumulator_value))

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(gradient, dtype)
        b1, b2 = ops.convert_to_tensor(self.beta_1, dtype), ops.convert_to_tensor(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        g2 = g * g
        self.assign(m, b1 * m + (1 - b1) * g)
        self.assign(v, v - (1 - b2) * ops.sign(v - g2) * g2)
        if self.bias_correction:
            t = ops.cast(self.iterations + 1, dtype)
            lr = lr * ops.sqrt(1 - ops.power(b2, t)) / (1 - ops.power(b1, t))
        self.assign_sub(variable, lr * m / (ops.sqrt(v) + ops.convert_to_tensor(self.epsilon, dtype)))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "initial_accumulator_value": self.initial_accumulator_value,
            "bias_correction": self.bias_correction,
        }
