"""Conditional gradient (Frank-Wolfe) for weights constrained to a norm ball: each step moves the weights
toward the ball's point that minimizes the linearized loss, so they stay inside it (Frank and Wolfe 1956;
for neural networks, Ravi et al. 2018).

TensorFlow Addons' rule (tensorflow_addons/optimizers/conditional_gradient.py), per variable, with
lambda_ the ball's radius:

    ord = "fro":      s = g / (||g||_F + eps)                (the Frobenius ball's vertex is -lambda_ s)
    ord = "nuclear":  s = u1 v1'                             (g's top singular vectors; the nuclear ball's)
    x <- lr x - (1 - lr) lambda_ s

Here, as in TFA, `learning_rate` is the weight kept on the current point: Frank-Wolfe's step is 1 - lr,
so a rate near 1 takes small steps, and a rate that decays in time takes larger ones. At a constant rate
the weights reach a minimum on the ball's boundary, and hover about (1 - lr)(lambda_ +- |x|) around one
inside it; Frank-Wolfe's 2 / (t + 2) steps, lr_t = t / (t + 2), would converge. Defaults are TFA's lambda_
0.01 and eps 1e-7; TFA had no default rate, and 0.99949 is its tutorial's
(docs/tutorials/optimizers_conditionalgradient.ipynb). An `IndexedSlices` gradient updates only its rows,
with s taken from those rows, as TFA did.

Where this differs from TFA: no slot (TFA made a `conditional_gradient` slot that it never used); and for
variables of more than two axes, "nuclear" takes the singular vectors of the variable as a matrix of its
last axis against all the others (TFA's SVD batched over the leading axes). Keras' `weight_decay` also
multiplies by this learning rate: x <- x - lr wd x.

References: M. Frank and P. Wolfe, "An algorithm for quadratic programming", Naval Research Logistics
Quarterly 3, 1956; S. N. Ravi, T. Dinh, V. S. Lokhande and V. Singh, "Constrained Deep Learning using
Conditional Gradient and Applications in Computer Vision", arXiv:1803.06453, 2018 (the paper TFA cites).
"""

import keras
import tensorflow as tf
from keras import ops

from trainer.config.ranges import valid
from trainer.optimizers import present_rows

NORMS = ("fro", "nuclear")


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    learning_rate="(0, 1]",  # the weight kept on the current point: above 1 the step leaves the ball
    lambda_="> 0",
    epsilon="> 0",
    ord="one of fro, nuclear",
)
class ConditionalGradient(keras.optimizers.Optimizer):
    def __init__(
        self, learning_rate=0.99949, lambda_=0.01, epsilon=1e-7, ord="fro", name="conditional_gradient", **kwargs
    ):
        if ord not in NORMS:
            raise ValueError(f"ord must be one of {', '.join(NORMS)}; got {ord!r}")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.lambda_, self.epsilon, self.ord = lambda_, epsilon, ord

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        g, rows, scatter = present_rows(gradient)
        g, lr = ops.cast(g, dtype), ops.cast(learning_rate, dtype)
        lambda_ = ops.convert_to_tensor(self.lambda_, dtype)
        if self.ord == "fro":
            s = g / (ops.sqrt(ops.sum(g * g)) + ops.convert_to_tensor(self.epsilon, dtype))
        else:
            s = top_singular_vectors(g)
        self.assign(variable, scatter(lr * rows(variable) - (1 - lr) * lambda_ * s))

    def get_config(self):
        return {**super().get_config(), "lambda_": self.lambda_, "epsilon": self.epsilon, "ord": self.ord}


def top_singular_vectors(g):
    """u1 v1' of g as a matrix, shaped like g: a scalar as 1 x 1, a vector as one row, more axes as
    (all but the last) x the last."""
    matrix = tf.reshape(g, [-1, tf.shape(g)[-1]] if g.shape.rank else [1, 1])
    _, u, v = tf.linalg.svd(matrix, full_matrices=False)
    return tf.reshape(tf.tensordot(u[:, 0], v[:, 0], axes=0), tf.shape(g))
