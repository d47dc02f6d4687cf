"""The train scalars of each log point, recorded inside the compiled loop: at every `trainer.log_every`-th step
the loop keeps the mean loss and metrics since the last point (their windows then restart), the learning rate,
that step's gradient norm and the task's values (a scalar problem's variables), so that one call runs past log
points and the train-scalars action (trainer/actions/train_scalars.py) writes the points it passed after it.
A call per log point cost more than the steps of a short run: 0.4 ms a call and its point's eager reads, where
a scalar problem's step takes microseconds."""

import numpy as np
import tensorflow as tf

from trainer.errors import ConfigError

GRADIENT_NORM = "train/gradient_norm"


class Points:
    """Where a call's log points go: their steps and their values (a row of `tags` each), as many as a call of
    `steps_per_call` steps passes."""

    def __init__(self, parts: dict, log_every: int, steps_per_call: int):
        """`parts`: the run's, as `Run`'s fields name them (its task gives the values of its own)."""
        loss_mean, optimizer, metrics = parts["loss_mean"], parts["optimizer"], parts["metrics"]
        task_values = parts["task"].log_values(parts["model"])
        for tag, value in task_values.items():  # a number would be a constant of the compiled loop
            if not isinstance(value, (tf.Variable, tf.Tensor)):
                raise ConfigError(
                    f"task: log_values gave {tag} as a {type(value).__name__}; it gives the model's variables (or "
                    "tensors of them), which the compiled loop reads at each log point"
                )
        self.loss_mean, self.optimizer, self.metrics, self.task_values = loss_mean, optimizer, metrics, task_values
        self.log_every = log_every
        capacity = steps_per_call // log_every + 1
        self.tags = ["train/loss", "train/learning_rate", GRADIENT_NORM, *(f"train/{name}" for name in metrics),
                     *task_values]  # fmt: skip
        self.steps = tf.Variable(tf.zeros([capacity], tf.int64), trainable=False, name="point_steps")
        self.rows = tf.Variable(tf.zeros([capacity, len(self.tags)]), trainable=False, name="point_values")
        # each mean's (total, count) as the point closed its window, for what sums windows (epoch means)
        self.windows = {"loss": loss_mean, **metrics}
        self.totals = tf.Variable(tf.zeros([capacity, 2 * len(self.windows)]), trainable=False, name="point_totals")

    def values(self, gradient_norm) -> dict:
        """A point's values by tag, of the windows as they stand: in the compiled loop, or read eagerly at the
        run's last step (trainer/actions/train_scalars.py)."""
        values = {
            "train/loss": self.loss_mean.result(),
            "train/learning_rate": self.optimizer.learning_rate,
            GRADIENT_NORM: gradient_norm,
            **{f"train/{name}": metric.result() for name, metric in self.metrics.items()},
            **self.task_values,
        }
        return {tag: tf.cast(tf.convert_to_tensor(values[tag]), tf.float32) for tag in self.tags}

    def record(self, count: tf.Tensor, step: tf.Tensor, gradient_norm: tf.Tensor) -> tf.Tensor:
        """Keep the point of `step` as the call's `count`-th, restart the windows; return `count + 1`."""
        row = tf.stack(list(self.values(gradient_norm).values()))
        totals = tf.stack([tf.cast(v, tf.float32) for metric in self.windows.values() for v in total_and_count(metric)])
        kept = [
            self.rows.scatter_nd_update([[count]], [row]),
            self.steps.scatter_nd_update([[count]], [step]),
            self.totals.scatter_nd_update([[count]], [totals]),
        ]
        with tf.control_dependencies(kept):
            for metric in (self.loss_mean, *self.metrics.values()):
                metric.reset_state()
            return count + 1

    def read(self, count: int) -> list[tuple[int, dict[str, float]]]:
        """The call's `count` points as (step, values by tag), in step order."""
        steps, rows = self.steps.numpy()[:count], self.rows.numpy()[:count]
        return [(int(step), dict(zip(self.tags, map(float, row)))) for step, row in zip(steps, rows)]

    def read_windows(self, count: int) -> list[dict[str, np.ndarray]]:
        """The (total, count) of each mean (`loss` and the metrics) as each of the call's `count` points closed
        its window."""
        rows = self.totals.numpy()[:count].reshape(count, len(self.windows), 2)
        return [dict(zip(self.windows, row)) for row in rows]


def is_mean(metric) -> bool:
    """Whether `metric` is a mean of a total over a count (Keras' Mean and MeanMetricWrapper)."""
    return [variable.path.rsplit("/", 1)[-1] for variable in metric.variables] == ["total", "count"]


def total_and_count(metric) -> list:
    """A mean metric's total and count; zeros for another kind."""
    return list(metric.variables) if is_mean(metric) else [0.0, 0.0]
