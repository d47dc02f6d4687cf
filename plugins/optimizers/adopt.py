"""ADOPT: Adam that normalizes each gradient by the second moment of the gradients before it, not including
it, and takes momentum after normalizing, so it converges for any beta_2 (Taniguchi et al. 2024).

The authors' rule and defaults (github.com/iShohei220/adopt, src/adopt/adopt.py), with g the gradient and
k = 0, 1, ... the steps taken before this one:

    k = 0:   v <- g^2                                     (no step: the first gradient only starts v)
    k > 0:   u = clip(g / max(sqrt(v), eps), -k^(1/4), k^(1/4))     (clipping only with use_clipping)
             m <- b1 m + (1 - b1) u
             x <- x - lr m
             v <- b2 v + (1 - b2) g^2

Defaults are the authors': lr 0.001, b1 0.9, b2 0.9999, eps 1e-6, clipping at k^(1/4) (the clipped form of
the paper's revised version; the unclipped original is `use_clipping=False`). optax's `optax.contrib.adopt`
has the same rule and defaults.

Weight decay is Keras' decoupled `weight_decay`, x <- x - lr wd x before each step: the authors'
`decouple=True`, except that Keras also decays at the first step, which the authors skip. Their default,
`decouple=False`, adds wd x to the gradient: an L2 term of the loss.

Reference: S. Taniguchi, K. Harada, G. Minegishi, Y. Oshima, S. C. Jeong, G. Nagahara, T. Iiyama, M. Suzuki,
Y. Iwasawa and Y. Matsuo, "ADOPT: Modified Adam Can Converge with Any beta_2 with the Optimal Rate",
NeurIPS 2024, arXiv:2411.02853.
"""

import keras
import tensorflow as tf
from keras import ops

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(beta_1="[0, 1)", beta_2="[0, 1)", epsilon="> 0")
class ADOPT(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.9999,
        epsilon=1e-6,
        use_clipping=True,
        name="adopt",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.use_clipping = beta_1, beta_2, epsilon, use_clipping

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ["momentum", "velocity"])

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(tf.convert_to_tensor(gradient), dtype)  # IndexedSlices: dense
        k = ops.cast(self.iterations, dtype)
        b1, b2, eps = (ops.convert_to_tensor(value, dtype) for value in (self.beta_1, self.beta_2, self.epsilon))
        first = ops.equal(self.iterations, 0)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        u = g / ops.maximum(ops.sqrt(v), eps)  # finite at k = 0 too (v = 0), where it is not used
        if self.use_clipping:
            bound = ops.power(k, ops.convert_to_tensor(0.25, dtype))
            u = ops.clip(u, -bound, bound)
        self.assign(m, ops.where(first, m, b1 * m + (1 - b1) * u))
        self.assign_sub(variable, ops.where(first, ops.zeros_like(m), lr * m))
        self.assign(v, ops.where(first, g * g, b2 * v + (1 - b2) * g * g))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "use_clipping": self.use_clipping,
        }
