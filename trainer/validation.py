"""What validation keeps apart from its action (trainer/actions/validation.py): the held-out split, and the
monitor of the best value, whose state is checkpointed for early stopping after `trainer.patience`
evaluations without an improvement of at least `trainer.min_delta`."""
import numpy as np
import tensorflow as tf

from trainer.data import is_stream
from trainer.errors import ConfigError


def split_validation(examples, fraction: float):
    """(train, validation): the last `fraction` of the examples held out, as Keras' validation_split does."""
    if examples is None:
        raise ConfigError("trainer.validation_split needs training examples; this experiment has none (data=none)")
    if is_stream(examples):
        raise ConfigError("trainer.validation_split holds out part of in-memory examples; this data plugin streams "
                          "them: hold out files of your own as its test split, or leave validation_split null")
    x, y = examples
    held_out = int(len(x) * fraction)
    if not 0 < held_out < len(x):
        raise ConfigError(f"trainer.validation_split={fraction} holds out {held_out} of {len(x)} examples; "
                          "it must leave at least one on each side")
    return (x[:-held_out], y[:-held_out]), (x[-held_out:], y[-held_out:])


class Monitor:
    """The best value of the monitored metric so far, when it came, and the evaluations since: variables,
    so that they are checkpointed and a resumed run remembers them."""

    def __init__(self):
        self.best = tf.Variable(np.inf, dtype=tf.float64, trainable=False, name="best")
        self.best_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="best_step")
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False, name="wait")
        self.configure("min", 0.0, None)

    def configure(self, mode: str, min_delta: float, patience: int | None) -> None:
        self.sign = 1.0 if mode == "min" else -1.0  # compare sign * value: smaller is better
        self.min_delta, self.patience = min_delta, patience

    def variables(self) -> list[tf.Variable]:
        return [self.best, self.best_step, self.wait]

    def update(self, value: float, step: int) -> bool:
        """Record an evaluation; True where it improved on the best by at least min_delta."""
        improved = self.sign * value < float(self.best.numpy()) - self.min_delta
        if improved:
            self.best.assign(self.sign * value)
            self.best_step.assign(step)
            self.wait.assign(0)
        else:
            self.wait.assign_add(1)
        return improved

    def exhausted(self) -> bool:
        return self.patience is not None and int(self.wait.numpy()) >= self.patience

    def best_value(self) -> float:
        return self.sign * float(self.best.numpy())
