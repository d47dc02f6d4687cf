"""Newton's method with the exact Hessian, from nested `tf.GradientTape`s: for small problems such as the
scalar experiment. It reaches a quadratic's minimum in one step at the default learning rate of 1.

    g = grad f(x),   H = the Hessian of f at x (the Jacobian of g, an n x n matrix)
    x <- x - lr (H + damping I)^-1 g

The Hessian costs n backward passes and n^2 numbers, so models with more than `max_parameters` are
refused at start. Reference: J. Nocedal and S. J. Wright, "Numerical Optimization", 2nd ed., Springer
2006, chapter 3.3.
"""

import math

import keras
import tensorflow as tf

from trainer.config.ranges import valid
from trainer.errors import ConfigError
from trainer.optimizers import ClosureOptimizer


@keras.saving.register_keras_serializable(package="trainer")
@valid(damping=">= 0", max_parameters="int >= 1")
class Newton(ClosureOptimizer):
    def __init__(self, learning_rate=1.0, damping=0.0, max_parameters=1000, name="newton", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.damping, self.max_parameters = damping, max_parameters

    def build(self, var_list):
        if self.built:
            return
        size = sum(math.prod(variable.shape) for variable in var_list)
        if size > self.max_parameters:
            raise ConfigError(
                f"optimizer=newton needs the exact {size} x {size} Hessian; the model has {size} parameters, "
                f"more than optimizer.max_parameters={self.max_parameters}"
            )
        super().build(var_list)

    def apply_closure(self, closure, variables):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss, prediction = closure()
            gradients = inner.gradient(loss, variables)
            flat_gradient = tf.concat([tf.reshape(g, [-1]) for g in gradients], axis=0)
        size = flat_gradient.shape[0]
        hessian = tf.concat([tf.reshape(block, [size, -1]) for block in outer.jacobian(flat_gradient, variables)], 1)
        hessian += tf.cast(self.damping, hessian.dtype) * tf.eye(size, dtype=hessian.dtype)
        step = tf.linalg.solve(hessian, flat_gradient[:, None])[:, 0]
        learning_rate = tf.cast(self.learning_rate, step.dtype)
        for variable, piece in zip(variables, tf.split(step, [math.prod(v.shape) for v in variables])):
            variable.assign_sub(learning_rate * tf.reshape(piece, variable.shape))
        self.iterations.assign_add(1)
        return loss, prediction, gradients

    def get_config(self):
        return {**super().get_config(), "damping": self.damping, "max_parameters": self.max_parameters}
