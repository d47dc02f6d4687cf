"""MARS: Adam on a variance-reduced gradient, the gradient plus a scaled difference from the last one, clipped to
norm 1 (Yuan et al. 2024), in its AdamW-based default variant, MARS-AdamW.

The rule, with g the gradient, g' the previous step's gradient (0 at the first step) and t = 1, 2, ... the step:

    c = g + gamma b1 / (1 - b1) (g - g')
    c <- c / max(1, ||c||)                        (||.|| the 2-norm of the whole variable)
    m <- b1 m + (1 - b1) c
    v <- b2 v + (1 - b2) c^2
    x <- x - lr m / ((sqrt(v) / sqrt(1 - b2^t) + eps) (1 - b1^t))
    g' <- g

Defaults are the authors' (github.com/AGI-Arena/MARS) for MARS-AdamW: lr 3e-3, b1 0.95, b2 0.99, gamma 0.025,
eps 1e-8. gamma 0 is AdamW with the clipping of c.

Deliberate differences from the authors' and pytorch-optimizer's `MARS`: the MARS step is taken for every
variable, as their `optimize_1d=True`. By default they step 1-D variables (biases, norms) with plain AdamW at a
separate lr_1d 3e-3, betas (0.9, 0.95) and weight decay 0.1; here give such variables that treatment, if wanted,
with another optimizer (the authors' test of 2-D, len(shape) == 2, also sends conv kernels to AdamW). eps is
added as the authors add it, after the bias correction of sqrt(v); pytorch-optimizer's `MARS` (4.1.0) adds it
before, to sqrt(v + 1e-15), so the two agree only at eps = 0. Weight decay is Keras' decoupled `weight_decay`,
x <- x - lr wd x, taken with the weights before the step, as the authors' and pytorch-optimizer's.

Reference: H. Yuan, Y. Liu, S. Wu, X. Zhou and Q. Gu, "MARS: Unleashing the Power of Variance Reduction for
Training Large Models", arXiv:2411.10438, 2024 (ICML 2025).
"""

import keras
import tensorflow as tf
from keras import ops

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    beta_1="[0, 1)",
    beta_2="[0, 1)",
    gamma=">= 0",  # 0 is AdamW
    epsilon="> 0",
)
class MARS(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=0.003,
        beta_1=0.95,
        beta_2=0.99,
        gamma=0.025,
        epsilon=1e-8,
        name="mars",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.gamma, self.epsilon = beta_1, beta_2, gamma, epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities, self._last_gradients = self.add_optimizer_variables(
            var_list, ["momentum", "velocity", "last_gradient"]
        )

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(tf.convert_to_tensor(gradient), dtype)  # IndexedSlices: dense
        t = ops.cast(self.iterations + 1, dtype)
        b1, b2, gamma, eps = (
            ops.convert_to_tensor(value, dtype) for value in (self.beta_1, self.beta_2, self.gamma, self.epsilon)
        )
        one = ops.convert_to_tensor(1.0, dtype)
        index = self._get_variable_index(variable)
        m, v, last = self._momentums[index], self._velocities[index], self._last_gradients[index]
        c = g + gamma * b1 / (1 - b1) * (g - last)
        c = c / ops.maximum(ops.sqrt(ops.sum(c * c)), one)
        self.assign(m, b1 * m + (1 - b1) * c)
        self.assign(v, b2 * v + (1 - b2) * c * c)
        denominator = (ops.sqrt(v) / ops.sqrt(1 - ops.power(b2, t)) + eps) * (1 - ops.power(b1, t))
        self.assign_sub(variable, lr * m / denominator)
        self.assign(last, g)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "gamma": self.gamma,
            "epsilon": self.epsilon,
        }
