"""The contract of a task: what differs between kinds of experiment, so that the run loop and its actions
never ask what kind of model they train. A task is a plugin (plugins/tasks/, conf/task/), chosen by the
experiment preset: `scalar` for a function of a few variables, `classification` for a Keras classifier on
data, `autoencoder` for a Keras model that gives back its inputs.

It checks the run's parts (built from the config's sections by the loop) fit it, adds its own values to
each log point, reports its final numbers, draws its pictures, exports what it trained, and draws a sweep's
shared pictures.
"""

from dataclasses import dataclass

from trainer.data import Splits


@dataclass
class Parts:
    data: Splits
    model: object
    loss_fn: object
    metrics: dict


class Task:
    def check(self, parts: Parts) -> Parts:
        """The parts, with any check this kind of experiment adds to what its streams read; raise a one-line
        `ConfigError` or `DataError` where they cannot make it."""
        return parts

    def log_values(self, model) -> dict:
        """Values logged beside the train scalars at each log point, by tag: scalar tensors of `model` (its
        variables), which the compiled loop reads at each log point (trainer/loop/points.py)."""
        return {}

    def report(self, run, loop) -> dict:
        """The task's final numbers for metrics.json, once the final weights are in place."""
        return {}

    def pictures(self, run, loop) -> dict[str, bytes]:
        """PNG pictures of the finished run, by name."""
        return {}

    def export(self, run) -> None:
        """Save what was trained, in the run directory."""

    def callback_model(self, run):
        """The model Keras callbacks are given: one whose `optimizer` is the run's."""
        return run.model

    def sweep_pictures(self, jobs: list) -> dict[str, bytes]:
        """PNG pictures over a sweep's jobs of this task (trainer/sweep.py's `Job`s), by name."""
        return {}
