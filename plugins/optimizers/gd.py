"""Plain gradient descent, the tutorials' `variable.assign_sub(learning_rate * gradient)`.

    x <- x - lr * g

The simplest optimizer plugin: a Keras optimizer subclass that writes only its update. Clipping, weight
decay, EMA and gradient accumulation come from the Keras base class.

Example:
    >>> import keras, tensorflow as tf
    >>> x = tf.Variable(1.0)
    >>> GradientDescent(learning_rate=0.1).apply_gradients([(tf.constant(2.0), x)])
    >>> round(float(x.numpy()), 6)
    0.8
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="trainer")
class GradientDescent(keras.optimizers.Optimizer):
    def __init__(self, learning_rate=0.01, name="gd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        step = ops.cast(learning_rate, variable.dtype) * ops.cast(gradient, variable.dtype)
        self.assign_sub(variable, step)
