"""The reduce-on-plateau schedule (`schedule=reduce_on_plateau`, Keras' ReduceLROnPlateau callback): fed the
train loss at each log point, each log window one of its epochs. Its counters (wait, best, cooldown) are
checkpointed, so a resumed run reduces the rate at the same steps as an uninterrupted one."""

import math

import keras
import tensorflow as tf

from trainer.actions.base import Action

COUNTERS = ("wait", "best", "cooldown_counter")


class Plateau(Action):
    phase = "react"

    def __init__(self):
        self.counters = {name: tf.Variable(math.nan, dtype=tf.float64, trainable=False, name=name) for name in COUNTERS}

    def state(self) -> dict:
        return self.counters

    def begin(self, run, loop) -> None:
        self.callback = run.schedule if isinstance(run.schedule, keras.callbacks.Callback) else None
        if self.callback is None:
            return
        self.every = run.cfg.trainer.log_every
        self.callback.set_model(run.task.callback_model(run))
        self.callback.on_train_begin()
        wait, best, cooldown = (float(self.counters[name].numpy()) for name in COUNTERS)
        if not math.isnan(wait):  # a resumed run: the counters where it stopped
            self.callback.wait, self.callback.cooldown_counter = int(wait), int(cooldown)
            self.callback.best = None if math.isnan(best) else best

    def act(self, run, loop) -> None:
        self.callback.on_epoch_end(loop.done // self.every, {"loss": loop.logs["train/loss"]})
        for name, variable in self.counters.items():
            value = getattr(self.callback, name)
            variable.assign(math.nan if value is None else float(value))
