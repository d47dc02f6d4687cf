"""CAME: Adafactor's factored second moments with a momentum, each step scaled by the confidence in it, the
inverse root of a factored average of the squared residual between the update and its momentum (Luo et al. 2023).

The authors' rule (github.com/yangluo7/CAME), with g the gradient. For a variable of rank 2 or more, factored
over its last two axes (rows i, columns j; means over the other axis, leading axes kept):

    R <- b2 R + (1 - b2) mean_j(g^2 + eps1)     C <- b2 C + (1 - b2) mean_i(g^2 + eps1)
    u = g / sqrt(R C / mean_i(R))                (R C / mean(R): Adafactor's rank-1 estimate of v)
    u <- u / max(1, rms(u) / d)
    m <- b1 m + (1 - b1) u
    r = (u - m)^2 + eps2
    Rr <- b3 Rr + (1 - b3) mean_j(r)            Cr <- b3 Cr + (1 - b3) mean_i(r)
    x <- x - lr m / sqrt(Rr Cr / mean_i(Rr))

For a variable of rank 0 or 1 it is Adafactor's unfactored form with momentum, without the confidence:

    v <- b2 v + (1 - b2) (g^2 + eps1)
    u = g / sqrt(v);   u <- u / max(1, rms(u) / d);   m <- b1 m + (1 - b1) u;   x <- x - lr m

Defaults are the authors': b1 0.9, b2 0.999, b3 0.9999, eps1 1e-30, eps2 1e-16, clip threshold d 1; their
class has no default lr, and 2e-4 is pytorch-optimizer's. Like Adafactor there is no bias correction.
pytorch-optimizer's `CAME` (4.1.0) has the same rule and defaults.
Weight decay is Keras' decoupled `weight_decay`, x <- x - lr wd x before each step, as the authors' (which
decays by lr wd x with the weights before the step).

Reference: Y. Luo, X. Ren, Z. Zheng, Z. Jiang, X. Jiang and Y. You, "CAME: Confidence-guided Adaptive Memory
Efficient Optimization", ACL 2023, arXiv:2307.02047.
"""

import keras
import tensorflow as tf
from keras import ops

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    beta_1="[0, 1)",
    beta_2="[0, 1)",
    beta_3="[0, 1)",
    epsilon_1="> 0",
    epsilon_2="> 0",
    clip_threshold="> 0",
)
class CAME(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=2e-4,
        beta_1=0.9,
        beta_2=0.999,
        beta_3=0.9999,
        epsilon_1=1e-30,
        epsilon_2=1e-16,
        clip_threshold=1.0,
        name="came",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.beta_3 = beta_1, beta_2, beta_3
        self.epsilon_1, self.epsilon_2, self.clip_threshold = epsilon_1, epsilon_2, clip_threshold

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")
        # Per variable: the full v for rank < 2; else the row and column averages of g^2 and of the residual.
        # The others are placeholders of shape (), as in Keras' Adafactor, so that every list has one per variable.
        self._v, self._rows, self._cols, self._res_rows, self._res_cols = [], [], [], [], []
        for var in var_list:
            factored = len(var.shape) >= 2
            row, col = (var.shape[:-1], var.shape[:-2] + (var.shape[-1],)) if factored else ((), ())
            self._v.append(self.add_variable(() if factored else var.shape, dtype=var.dtype, name=var.name + "_v"))
            for slots, shape, suffix in (
                (self._rows, row, "_row"),
                (self._cols, col, "_col"),
                (self._res_rows, row, "_res_row"),
                (self._res_cols, col, "_res_col"),
            ):
                slots.append(self.add_variable(shape, dtype=var.dtype, name=var.name + suffix))

    @staticmethod
    def _inverse_root(row, col):
        """1 / sqrt(row col / mean(row)), the factored estimate, shaped like the variable."""
        return ops.expand_dims(ops.rsqrt(row / ops.mean(row, axis=-1, keepdims=True)), -1) * ops.expand_dims(
            ops.rsqrt(col), -2
        )

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(tf.convert_to_tensor(gradient), dtype)  # IndexedSlices: dense
        b1, b2, b3, eps1, eps2, d = (
            ops.convert_to_tensor(value, dtype)
            for value in (self.beta_1, self.beta_2, self.beta_3, self.epsilon_1, self.epsilon_2, self.clip_threshold)
        )
        one = ops.convert_to_tensor(1.0, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        factored = len(variable.shape) >= 2
        g2 = g * g + eps1
        if factored:
            row, col = self._rows[index], self._cols[index]
            self.assign(row, b2 * row + (1 - b2) * ops.mean(g2, axis=-1))
            self.assign(col, b2 * col + (1 - b2) * ops.mean(g2, axis=-2))
            u = g * self._inverse_root(row, col)
        else:
            v = self._v[index]
            self.assign(v, b2 * v + (1 - b2) * g2)
            u = g * ops.rsqrt(v)
        u = u / ops.maximum(ops.sqrt(ops.mean(u * u)) / d, one)
        self.assign(m, b1 * m + (1 - b1) * u)
        if factored:
            r = ops.square(u - m) + eps2
            res_row, res_col = self._res_rows[index], self._res_cols[index]
            self.assign(res_row, b3 * res_row + (1 - b3) * ops.mean(r, axis=-1))
            self.assign(res_col, b3 * res_col + (1 - b3) * ops.mean(r, axis=-2))
            self.assign_sub(variable, lr * m * self._inverse_root(res_row, res_col))
        else:
            self.assign_sub(variable, lr * m)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "beta_3": self.beta_3,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
        }
