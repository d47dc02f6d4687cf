"""The train scalars of each log point, recorded inside the compiled loop: at every `trainer.log_every`-th step
the loop keeps the mean loss and metrics since the last point (their windows then restart), the learning rate,
that step's gradient norm and the task's values (a scalar problem's variables), so that one call runs past log
points and the train-scalars action (trainer/actions/train_scalars.py) writes the points it passed after it.
A call per log point cost more than the steps of a short run: 0.4 ms a call and its point's eager reads, where
a scalar problem's step takes microseconds."""

import numpy as np
import tensorflow as tf

GRADIENT_NORM = "train/gradient_norm"


class Points:
    """Where a call's log points go: their steps and their values (a row of `tags` each), at most `capacity`
    of them, the most a call of `trainer.steps_per_call` steps passes."""

    def __init__(self, loss_mean, optimizer, metrics: dict, task_values: dict, log_every: int, capacity: int):
        self.loss_mean, self.optimizer, self.metrics, self.task_values = loss_mean, optimizer, metrics, task_values
        self.log_every = log_every
        self.tags = ["train/loss", "train/learning_rate", GRADIENT_NORM, *(f"train/{name}" for name in metrics),
                     *task_values]  # fmt: skip
        self.steps = tf.Variable(tf.zeros([capacity], tf.int64), trainable=False, name="point_steps")
        self.rows = tf.Variable(tf.zeros([capacity, len(self.tags)]), trainable=False, name="point_values")
        # each mean's (total, count) as the point closed its window, for what sums windows (epoch means)
        self.windows = {"loss": loss_mean, **metrics}
        self.totals = tf.Variable(tf.zeros([capacity, 2 * len(self.windows)]), trainable=False, name="point_totals")

    def record(self, count: tf.Tensor, step: tf.Tensor, gradient_norm: tf.Tensor) -> tf.Tensor:
        """Keep the point of `step` as the call's `count`-th, restart the windows; return `count + 1`."""
        values = {
            "train/loss": self.loss_mean.result(),
            "train/learning_rate": self.optimizer.learning_rate,
            GRADIENT_NORM: gradient_norm,
            **{f"train/{name}": metric.result() for name, metric in self.metrics.items()},
            **self.task_values,
        }
        row = tf.stack([tf.cast(tf.convert_to_tensor(values[tag]), tf.float32) for tag in self.tags])
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


def total_and_count(metric) -> list:
    """A mean metric's total and count (Keras' Mean and MeanMetricWrapper); zeros for another kind."""
    names = [variable.path.rsplit("/", 1)[-1] for variable in metric.variables]
    return list(metric.variables) if names == ["total", "count"] else [0.0, 0.0]
