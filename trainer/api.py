"""`trainer.minimize`: the tutorials' `optimizer.minimize(loss_fn, var_list)`, which Keras 3 removed, as one
compiled call of the framework's train step that returns the loss history.

    >>> import tensorflow as tf, trainer
    >>> x = tf.Variable(5.0)
    >>> history = trainer.minimize(lambda: 2 * x * x + x + 3, [x], optimizer="sgd", steps=100, learning_rate=0.1)
    >>> round(float(x.numpy()), 4), float(history[0])
    (-0.25, 58.0)
"""

import functools

import keras
import numpy as np
import tensorflow as tf
from omegaconf import OmegaConf

from trainer.config.build import build
from trainer.config.checks import check_plugin
from trainer.config.compose import compose_config
from trainer.loop.step import make_train_step, per_run_function


class FunctionOfVariables:
    """What the train step needs of a model: the variables it trains, and a call that gives the loss."""

    def __init__(self, fn, var_list):
        self.fn, self.trainable_variables = fn, list(var_list)

    def __call__(self, inputs=None, training=False):
        return self.fn()


def optimizer_from_config(name: str, **hyperparameters) -> keras.optimizers.Optimizer:
    """The optimizer `name` of conf/optimizer/, with `hyperparameters` in place of its YAML's values."""
    # the YAML's own values, without the experiment's or the task's learning-rate presets
    node = compose_config(f"optimizer={name}", "~experiment", "~_learning_rate@optimizer").optimizer
    OmegaConf.set_struct(node, False)  # unknown names get check_plugin's message, not OmegaConf's
    node = OmegaConf.merge(node, hyperparameters)
    check_plugin(node, "optimizer")
    return build(node, "optimizer")


def minimize(fn, var_list, optimizer="adam", steps: int = 100, jit_compile: bool = True, **hyperparameters):
    """Minimize `fn()`, a function of the `tf.Variable`s in `var_list`, for `steps` steps.

    Args:
      fn: a function of no arguments returning a scalar tensor, computed from `var_list`.
      var_list: the variables to change.
      optimizer: a name from conf/optimizer/ ("adam", "sgd", "newton", ...) or a Keras optimizer.
      steps: the number of optimizer steps, all run inside one compiled call.
      jit_compile: compile the loop with XLA (fn must then be XLA-compatible).
      **hyperparameters: the optimizer's, by their config names (learning_rate=0.1, momentum=0.9, ...).

    Returns:
      A NumPy array of the `steps` losses, each taken before its step's update.
    """
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if hyperparameters:
            raise TypeError(f"hyperparameters {sorted(hyperparameters)} go with an optimizer name, not an instance")
    else:
        optimizer = optimizer_from_config(optimizer, **hyperparameters)
    model = FunctionOfVariables(fn, var_list)
    optimizer.build(model.trainable_variables)
    train_step = make_train_step(model, lambda y_true, value: value, optimizer, metrics={})
    losses = per_run_function(functools.partial(step_losses, train_step), jit_compile=jit_compile)
    return np.asarray(losses(tf.constant(steps)))


def step_losses(train_step, count):
    """`count` train steps in a graph loop; the loss of each, taken before its update."""
    losses = tf.TensorArray(tf.float32, size=count)
    for index in tf.range(count):
        loss, _ = train_step(None, None)
        losses = losses.write(index, loss)
    return losses.stack()
