"""Histograms every `logging.histogram_every` steps (none by default): each trainable variable, and its
gradient on the first training batch, as weights/<name> and gradients/<name>."""

import tensorflow as tf

from trainer.actions.base import Action
from trainer.loop.step import make_gradients
from trainer.outputs.events import variable_name


class Histograms(Action):
    def begin(self, run, loop) -> None:
        self.every = run.cfg.logging.histogram_every
        if self.every:
            self.gradients = make_gradients(run.model, run.loss_fn)
            self.probe = run.first_batch()

    def act(self, run, loop) -> None:
        for variable, gradient in zip(run.model.trainable_variables, self.gradients(*self.probe)):
            name = variable_name(variable)
            tf.summary.histogram(f"weights/{name}", variable, step=loop.done)
            tf.summary.histogram(f"gradients/{name}", gradient, step=loop.done)
