"""Keras callbacks by config (the `callbacks` group: CSVLogger, TerminateOnNaN, LearningRateScheduler, a
user's own, a tracking service's): called at train begin and end and at each epoch's end with the logs
`model.fit` would give them: the epoch's mean loss and metrics, and the latest val_* values; with
`callback.model` the task's model, its `optimizer` set. A scalar problem's every step is an epoch.

The epoch means are kept apart from the train scalars' windows, which the loop restarts at each log point
(trainer/loop/points.py): after every call this action adds to the epoch's totals and counts each window the
call closed, and what the running means gathered since, less what it had seen of them."""

import keras
import numpy as np

from trainer.actions.base import Action
from trainer.errors import ConfigError
from trainer.loop.points import is_mean


class KerasCallbacks(Action):
    phase = "observe"

    def __init__(self, callbacks: dict | None = None):
        self.callbacks = list((callbacks or {}).values())
        for callback in self.callbacks:
            if not isinstance(callback, keras.callbacks.Callback):
                raise ConfigError(f"callbacks: {type(callback).__name__} is not a keras.callbacks.Callback")

    def begin(self, run, loop) -> None:
        if not self.callbacks:
            return
        self.every = run.steps_per_epoch
        self.running = {"loss": run.loss_mean, **run.metrics}
        for name, metric in self.running.items():
            if not is_mean(metric):
                raise ConfigError(f"callbacks need metrics that are means (a total and a count); metrics.{name} is not")
        self.seen = self.epoch = self.zeros()
        self.list = keras.callbacks.CallbackList(self.callbacks, model=run.task.callback_model(run))
        self.list.on_train_begin()

    def zeros(self) -> dict:
        return {name: np.zeros(2) for name in self.running}

    def steps_to_due(self, done: int) -> float:
        return super().steps_to_due(done) if self.callbacks else np.inf

    def due(self, run, loop) -> bool:
        return bool(self.callbacks)  # after every call: the windows it closed

    def act(self, run, loop) -> str | None:
        for window in run.points.read_windows(int(loop.outputs[2])):
            self.add(window)
            self.seen = self.zeros()
        now = {name: np.array([float(v.numpy()) for v in metric.variables]) for name, metric in self.running.items()}
        self.add(now)
        self.seen = now
        if loop.done % self.every != 0 and loop.done != run.total_steps:
            return None
        logs = {name: total / count for name, (total, count) in self.epoch.items()}
        logs.update({f"val_{tag[4:]}": value for tag, value in loop.logs.items() if tag.startswith("val/")})
        self.list.on_epoch_end(loop.done // self.every - 1, logs)
        self.logs, self.epoch = logs, self.zeros()
        if getattr(run.task.callback_model(run), "stop_training", False):  # EarlyStopping, TerminateOnNaN
            return "a callback stopped the training"
        return None

    def add(self, window: dict) -> None:
        """The part of each mean's (total, count) `window` it has not seen, to the epoch's."""
        self.epoch = {name: self.epoch[name] + window[name] - self.seen[name] for name in self.epoch}

    def end(self, run, loop) -> None:
        if self.callbacks:
            self.list.on_train_end(getattr(self, "logs", {}))
