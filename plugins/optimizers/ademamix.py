"""AdEMAMix: Adam whose numerator mixes the usual fast moving average of the gradients with a slow one
that remembers them for tens of thousands of steps (Pagliardini et al. 2024, Algorithm 1).

The authors' rule and defaults (github.com/apple/ml-ademamix, pytorch/ademamix.py), with g the gradient at
step t = 1, 2, ...:

    m1 <- b1 m1 + (1 - b1) g                   (fast average, bias-corrected below)
    m2 <- b3 m2 + (1 - b3) g                   (slow average, not bias-corrected: it fills slowly)
    v  <- b2 v + (1 - b2) g^2
    x  <- x - lr (m1 / (1 - b1^t) + alpha m2) / (sqrt(v / (1 - b2^t)) + eps)

With `alpha_warmup` = T_a, alpha grows linearly from 0, alpha_t = alpha min(t / T_a, 1); with
`beta_3_warmup` = T_b, b3 grows from b1 so that the half-life of the slow average grows linearly:
b3_t = f^-1((1 - a) f(b1) + a f(b3)), a = min(t / T_b, 1), f(b) = ln(1/2) / ln(b + 1e-8) - 1,
f^-1(h) = (1/2)^(1 / (h + 1)). The paper sets both to the length of training for long runs; None (the
default) uses alpha and b3 from the first step.

Defaults are the authors' code's: lr 0.001, b1 0.9, b2 0.999, b3 0.9999, alpha 2, eps 1e-8, no warm-up
(the paper trains its language models with alpha 5 to 8; optax's `optax.contrib.ademamix` defaults to 5).

Weight decay is Keras' decoupled `weight_decay`, x <- x - lr wd x: the authors' `weight_decay` and optax's.

Reference: M. Pagliardini, P. Ablin and D. Grangier, "The AdEMAMix Optimizer: Better, Faster, Older",
ICLR 2025, arXiv:2409.03137.
"""

import math

import keras
import tensorflow as tf
from keras import ops

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    beta_1="[0, 1)",
    beta_2="[0, 1)",
    beta_3="[0, 1)",
    alpha=">= 0",  # 0 is Adam
    epsilon="> 0",
    alpha_warmup="int >= 0 or null",  # 0 or null: no warm-up
    beta_3_warmup="int >= 0 or null",
)
class AdEMAMix(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        beta_3=0.9999,
        alpha=2.0,
        epsilon=1e-8,
        alpha_warmup=None,
        beta_3_warmup=None,
        name="ademamix",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.beta_3, self.alpha, self.epsilon = beta_1, beta_2, beta_3, alpha, epsilon
        self.alpha_warmup, self.beta_3_warmup = alpha_warmup, beta_3_warmup

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._slow_momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "slow_momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(tf.convert_to_tensor(gradient), dtype)  # IndexedSlices: dense
        t = ops.cast(self.iterations + 1, dtype)
        b1, b2, eps = (ops.convert_to_tensor(value, dtype) for value in (self.beta_1, self.beta_2, self.epsilon))
        alpha, b3 = ops.convert_to_tensor(self.alpha, dtype), ops.convert_to_tensor(self.beta_3, dtype)
        if self.alpha_warmup:
            alpha = alpha * ops.minimum(t / self.alpha_warmup, 1)
        if self.beta_3_warmup:
            a = ops.minimum(t / self.beta_3_warmup, 1)
            half_life = (1 - a) * self.half_life(self.beta_1) + a * self.half_life(self.beta_3)
            b3 = ops.power(ops.convert_to_tensor(0.5, dtype), 1 / (half_life + 1))
        index = self._get_variable_index(variable)
        m1, m2, v = self._momentums[index], self._slow_momentums[index], self._velocities[index]
        self.assign(m1, b1 * m1 + (1 - b1) * g)
        self.assign(m2, b3 * m2 + (1 - b3) * g)
        self.assign(v, b2 * v + (1 - b2) * g * g)
        denominator = ops.sqrt(v / (1 - ops.power(b2, t))) + eps
        self.assign_sub(variable, lr * (m1 / (1 - ops.power(b1, t)) + alpha * m2) / denominator)

    @staticmethod
    def half_life(beta):
        """The authors' f: steps, less one, for an average of decay `beta` to halve (a Python float)."""
        return math.log(0.5) / math.log(beta + 1e-8) - 1

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "beta_3": self.beta_3,
            "alpha": self.alpha,
            "epsilon": self.epsilon,
            "alpha_warmup": self.alpha_warmup,
            "beta_3_warmup": self.beta_3_warmup,
        }
