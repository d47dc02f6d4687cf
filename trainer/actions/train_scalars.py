"""Train scalars and progress: every `trainer.log_every` steps, the means of the loss and metrics over the
steps since the last point, the learning rate, the last step's gradient norm and the task's own values
(a scalar problem's variables) go to TensorBoard, the loop's logs and the progress display; the means restart.
So do the seconds spent in steps (`time/step_seconds`, tracing and compiling apart: `time/compile_seconds`)."""

import logging

import tensorflow as tf

from trainer.actions.base import Action
from trainer.loop.run import STEP_SECONDS
from trainer.outputs.progress import Progress

log = logging.getLogger("trainer.train")
COMPILE_SECONDS = "time/compile_seconds"  # tracing and compiling the loop, at the step where the process did it


class TrainScalars(Action):
    phase = "log"

    def begin(self, run, loop) -> None:
        self.every = run.cfg.trainer.log_every
        self.progress = Progress(run.total_steps, loop.done, loop.step_seconds, run.cfg.logging.progress)
        tf.summary.scalar(COMPILE_SECONDS, loop.compile_seconds, step=loop.done)
        if loop.done == 0:  # the first point of a path
            for tag, value in {**run.task.log_values(run), STEP_SECONDS: 0.0}.items():
                tf.summary.scalar(tag, value, step=0)

    def act(self, run, loop) -> None:
        self.log(run, loop, float(loop.outputs[0]))

    def end(self, run, loop) -> None:
        if "train/loss" not in loop.logs:  # a checkpoint of trainer 0.1, which kept no logs, and no step since
            self.log(run, loop, 0.0)
        if loop.done:
            log.info(
                "%d steps in %.3g s of compiled calls (%.3g ms a step), after %.3g s of tracing and compiling",
                loop.done,
                loop.step_seconds,
                1e3 * loop.step_seconds / loop.done,
                loop.compile_seconds,
            )

    def log(self, run, loop, gradient_norm: float) -> None:
        values = {
            "train/loss": float(run.loss_mean.result()),
            "train/learning_rate": float(run.optimizer.learning_rate.numpy()),
            "train/gradient_norm": gradient_norm,
            **{f"train/{name}": float(metric.result()) for name, metric in run.metrics.items()},
            **run.task.log_values(run),
        }
        logged = {**values, STEP_SECONDS: loop.step_seconds}
        for tag, value in logged.items():
            tf.summary.scalar(tag, value, step=loop.done)
        for metric in (run.loss_mean, *run.metrics.values()):
            metric.reset_state()
        loop.logs.update(logged)
        self.progress.update(loop.done, loop.step_seconds, values)
