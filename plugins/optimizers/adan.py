"""Adan: Adam with Nesterov momentum estimated from the difference of successive gradients, which costs no
gradient at an extrapolated point (Xie et al. 2022, Algorithm 1).

The authors' rule and defaults (github.com/sail-sg/Adan, adan.py), with g the gradient at step t = 1, 2, ...
and g_prev the previous step's (g itself at t = 1, so the first difference is 0):

    d = g - g_prev
    m <- b1 m + (1 - b1) g                      (average of the gradients)
    v <- b2 v + (1 - b2) d                      (average of their differences)
    n <- b3 n + (1 - b3) (g + b2 d)^2           (second moment of the Nesterov gradient)
    x <- x - lr (m / (1 - b1^t) + b2 v / (1 - b2^t)) / (sqrt(n / (1 - b3^t)) + eps)

The code's b = 1 - the paper's beta (its b1 = 0.98 is the paper's beta_1 = 0.02), as the authors' code has
them. Defaults are the authors': lr 0.001, b1 0.98, b2 0.92, b3 0.99, eps 1e-8.

Weight decay is Keras' decoupled `weight_decay`, x <- x - lr wd x before the step: the authors'
`no_prox=True`. Their default, `no_prox=False`, divides instead, x <- (x - lr u) / (1 + lr wd); the two agree
to first order in lr wd.

Where this differs from optax (`optax.adan`, 0.2.8): optax weights the gradient difference by 1 - b2 (0.08)
in n and in the step, where the paper and the authors' code weight it by b2 (0.92), as here (optax pull
request #1715 corrects it); optax also adds eps_root = 1e-8 under the square root. The two agree at b2 = 0.5
with eps_root = 0, where the tests compare them.

Reference: X. Xie, P. Zhou, H. Li, Z. Lin and S. Yan, "Adan: Adaptive Nesterov Momentum Algorithm for
Faster Optimizing Deep Models", arXiv:2208.06677, 2022 (IEEE TPAMI 2024).
"""

import keras
import tensorflow as tf
from keras import ops

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(beta_1="[0, 1)", beta_2="[0, 1)", beta_3="[0, 1)", epsilon="> 0")
class Adan(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.98,
        beta_2=0.92,
        beta_3=0.99,
        epsilon=1e-8,
        name="adan",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.beta_3, self.epsilon = beta_1, beta_2, beta_3, epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._differences, self._second_moments, self._previous_gradients = (
            self.add_optimizer_variables(var_list, ["momentum", "difference", "second_moment", "previous_gradient"])
        )

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(tf.convert_to_tensor(gradient), dtype)  # IndexedSlices: dense
        t = ops.cast(self.iterations + 1, dtype)
        b1, b2, b3, eps = (
            ops.convert_to_tensor(value, dtype) for value in (self.beta_1, self.beta_2, self.beta_3, self.epsilon)
        )
        index = self._get_variable_index(variable)
        m, v, n, g_prev = (
            self._momentums[index],
            self._differences[index],
            self._second_moments[index],
            self._previous_gradients[index],
        )
        d = ops.where(ops.equal(self.iterations, 0), ops.zeros_like(g), g - g_prev)
        self.assign(m, b1 * m + (1 - b1) * g)
        self.assign(v, b2 * v + (1 - b2) * d)
        self.assign(n, b3 * n + (1 - b3) * ops.square(g + b2 * d))
        self.assign(g_prev, g)
        denominator = ops.sqrt(n / (1 - ops.power(b3, t))) + eps
        direction = m / (1 - ops.power(b1, t)) + b2 * v / (1 - ops.power(b2, t))
        self.assign_sub(variable, lr * direction / denominator)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "beta_3": self.beta_3,
            "epsilon": self.epsilon,
        }
