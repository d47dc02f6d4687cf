"""LazyAdam: Adam whose sparse updates touch only the rows their gradient has (TensorFlow Addons' LazyAdam).

A dense gradient takes Keras' own Adam step. An `IndexedSlices` gradient, such as an embedding's from a
`tf.gather`, updates only the rows it names, each once (repeated indices summed first); every other row of
the variable and of its slots is left as it is, so their moments are not decayed by the steps they miss.
With g the summed rows of the gradient and t the optimizer's step:

    m[rows] <- b1 m[rows] + (1 - b1) g
    v[rows] <- b2 v[rows] + (1 - b2) g^2
    x[rows] <- x[rows] - lr sqrt(1 - b2^t) / (1 - b1^t) m[rows] / (sqrt(v[rows]) + eps)

This is TFA's `_resource_apply_sparse` (tensorflow_addons/optimizers/lazy_adam.py), with its defaults: lr
0.001, eps 1e-7. On sparse gradients it differs from Adam, whose absent rows' moments decay and whose
absent rows keep moving with them. Where this differs from TFA: `amsgrad` also works lazily (TFA's sparse
step ignored it), and Keras' `weight_decay`, decoupled, decays every row at each step, not only the present ones.
Keras' `global_clipnorm` and `gradient_accumulation_steps` make the gradient dense, and the step Adam's;
`clipnorm`, `clipvalue` and loss scaling keep it sparse.

Reference: D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
arXiv:1412.6980; the lazy variant is TensorFlow's `tf.contrib.opt.LazyAdamOptimizer`, then TFA's.
"""

import keras
import tensorflow as tf
from keras import ops

from trainer.optimizers import present_rows


@keras.saving.register_keras_serializable(package="trainer")
class LazyAdam(keras.optimizers.Adam):
    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name="lazy_adam", **kwargs
    ):
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            name=name,
            **kwargs,
        )

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        g, rows, scatter = present_rows(gradient)
        g, lr = ops.cast(g, dtype), ops.cast(learning_rate, dtype)
        t = ops.cast(self.iterations + 1, dtype)
        b1, b2, eps = (ops.convert_to_tensor(value, dtype) for value in (self.beta_1, self.beta_2, self.epsilon))
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m_rows = b1 * rows(m) + (1 - b1) * g
        v_rows = b2 * rows(v) + (1 - b2) * g * g
        self.assign(m, scatter(m_rows))
        self.assign(v, scatter(v_rows))
        if self.amsgrad:
            v_hat = self._velocity_hats[index]
            v_rows = ops.maximum(rows(v_hat), v_rows)
            self.assign(v_hat, scatter(v_rows))
        alpha = lr * ops.sqrt(1 - ops.power(b2, t)) / (1 - ops.power(b1, t))
        self.assign_sub(variable, scatter(alpha * m_rows / (ops.sqrt(v_rows) + eps)))
