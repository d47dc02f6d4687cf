"""Evaluation: the loss and metrics of a model over all of a split's examples, and its outputs, from one
compiled step traced once per run."""

import functools

import numpy as np

from trainer.data import is_stream
from trainer.loop.step import per_run_function


def batches_of(examples, batch_size: int):
    """(x, y) batches of in-memory arrays or of a data set of examples, in order."""
    if is_stream(examples):
        yield from examples.batch(batch_size)
        return
    x, y = examples
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size], y[start : start + batch_size]


def make_evaluate(model, loss_fn, metrics) -> "Evaluator":
    """An `evaluate(examples, batch_size) -> {"loss": ..., metric: ...}` over all (x, y) `examples`."""
    return Evaluator(model, loss_fn, metrics)


class Evaluator:
    """`evaluator(examples, batch_size)`: the loss and metrics over all (x, y) `examples`;
    `evaluator.predict(examples, batch_size)`: the model's outputs for them.

    Both run one compiled step, traced once and reused by every pass; the metrics restart with each pass.
    `model.predict` would trace a function of its own: 0.3 s at the end of an MNIST run.
    """

    def __init__(self, model, loss_fn, metrics: dict):
        self.metrics = metrics

        @functools.partial(per_run_function, reduce_retracing=True)
        def eval_step(x, y):
            prediction = model(x, training=False)
            for metric in metrics.values():
                metric.update_state(y, prediction)
            return loss_fn(y, prediction), prediction

        self.eval_step = eval_step

    def batch_outputs(self, examples, batch_size: int):
        """(examples in the batch, their mean loss, the model's outputs) for each batch; the metrics restart first."""
        for metric in self.metrics.values():
            metric.reset_state()
        for batch_x, batch_y in batches_of(examples, batch_size):
            loss, prediction = self.eval_step(batch_x, batch_y)
            yield len(batch_x), float(loss), prediction

    def __call__(self, examples, batch_size: int) -> dict[str, float]:
        counted = [(count, count * loss) for count, loss, _ in self.batch_outputs(examples, batch_size)]
        total = sum(count for count, _ in counted)
        return {
            "loss": sum(loss for _, loss in counted) / total,
            **{name: float(m.result()) for name, m in self.metrics.items()},
        }

    def predict(self, examples, batch_size: int) -> np.ndarray:
        return np.concatenate([outputs.numpy() for _, _, outputs in self.batch_outputs(examples, batch_size)])
