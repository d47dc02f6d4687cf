"""Training examples held in memory and cut into batches inside the compiled train loop.

Batches are gathered in the graph from the step counter alone, so the loop needs no Python iterator and
the data position is whatever the step counter says: an epoch's order is a shuffle seeded by
(seed, epoch), reproducible from the step number. Images kept as bytes (`Pixels`) stay bytes in memory
and in the loop, which converts each batch to float32 as it gathers it.
"""
from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass
class Splits:
    """A data plugin's result: (features, labels) arrays per split; None where a split does not exist."""

    train: tuple[np.ndarray, np.ndarray] | None = None
    test: tuple[np.ndarray, np.ndarray] | None = None


PIXEL_MAX = 255.0  # an 8-bit pixel p reads as p / PIXEL_MAX


def pixel_values(pixels: np.ndarray) -> np.ndarray:
    """8-bit pixels as float32 in [0, 1]."""
    return pixels.astype(np.float32) / PIXEL_MAX


class Pixels:
    """8-bit images that read as float32 in [0, 1] (`pixel_values`): an index, a slice or `np.asarray` gives
    the floats, computed as they are read. Held as bytes, a data set takes a quarter of the memory, and of
    the time to load and to copy into TensorFlow: for MNIST's 47M training pixels, 0.05 s rather than 0.9 s."""

    dtype = np.dtype(np.float32)

    def __init__(self, raw: np.ndarray):
        self.raw = raw
        self.shape, self.ndim = raw.shape, raw.ndim

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, index) -> np.ndarray:
        return pixel_values(self.raw[index])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = pixel_values(self.raw)
        return values if dtype is None else values.astype(dtype, copy=False)


class InMemoryBatches:
    """Shuffled batches of in-memory arrays, one per step; the last partial batch of an epoch is dropped."""

    def __init__(self, examples: tuple[np.ndarray, np.ndarray], batch_size: int, seed: int):
        x, y = examples
        self.size = len(x)
        self.batch_size = min(batch_size, self.size)
        self.steps_per_epoch = self.size // self.batch_size
        self.seed = seed
        self.x = tf.convert_to_tensor(x.raw if isinstance(x, Pixels) else x)
        self.y = tf.convert_to_tensor(y)
        # Pixels are divided by a variable: Grappler and XLA turn a division by a constant into a multiplication
        # by its rounded reciprocal, which gives other floats than `pixel_values`.
        self.pixel_max = tf.Variable(PIXEL_MAX, trainable=False, name="pixel_max") if isinstance(x, Pixels) else None
        self.order = tf.Variable(tf.range(self.size), trainable=False, name="order")
        self.order_epoch = tf.Variable(tf.constant(-1, tf.int64), trainable=False, name="order_epoch")

    def shuffle(self, epoch):
        """The epoch's order of examples, a function of (seed, epoch) only."""
        seed = tf.stack([tf.constant(self.seed, tf.int64), epoch])
        # argsort of seeded uniforms rather than stateless_shuffle, which XLA cannot compile
        return tf.argsort(tf.random.stateless_uniform([self.size], seed=seed))

    def batch(self, step):
        """The examples of training step `step` (a scalar int64 tensor)."""
        epoch = step // self.steps_per_epoch

        def reshuffle():
            self.order.assign(self.shuffle(epoch))
            self.order_epoch.assign(epoch)
            return tf.constant(True)

        # A new order once per epoch; also after a restart, since order_epoch begins at -1.
        tf.cond(tf.not_equal(epoch, self.order_epoch), reshuffle, lambda: tf.constant(False))
        start = (step % self.steps_per_epoch) * self.batch_size
        indices = self.order[start : start + self.batch_size]
        x = tf.gather(self.x, indices)
        if self.pixel_max is not None:
            x = tf.cast(x, tf.float32) / self.pixel_max
        return x, tf.gather(self.y, indices)

    def source(self, pipeline: str, step: tf.Variable):
        """A function the train loop calls for each step's (x, y): gathered in the loop itself ("graph"), or
        the same batches computed ahead of it by a prefetching tf.data pipeline ("tf.data")."""
        if pipeline == "graph":
            return lambda: self.batch(step)
        ahead = tf.data.Dataset.counter(int(step.numpy())).map(self.batch).prefetch(tf.data.AUTOTUNE)
        iterator = iter(ahead)
        return lambda: next(iterator)


class NoBatches:
    """Scalar problems: no examples, one step per 'epoch'; the objective is evaluated as it is."""

    steps_per_epoch = 1

    def source(self, pipeline: str, step: tf.Variable):
        return lambda: (None, None)


def make_batches(examples, batch_size: int, seed: int):
    """Batches of a split's (x, y) arrays, or none where the experiment has no data."""
    if examples is None:
        return NoBatches()
    return InMemoryBatches(examples, batch_size, seed)
