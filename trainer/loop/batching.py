"""Training examples cut into batches for the compiled train loop: held in memory, or streamed.

In-memory batches are gathered in the graph from the step counter alone, so the loop needs no Python
iterator and the data position is whatever the step counter says: an epoch's order is a shuffle seeded
by (seed, epoch), reproducible from the step number. Images kept as bytes (`Pixels`), as inputs or as
targets, stay bytes in memory and in the loop, which converts each batch to float32 as it gathers it. Under a
strategy with several replicas, each step gathers the global batch and each replica trains on its slice of it
(`replica_slice`).

A stream (a data plugin's `tf.data.Dataset`) is cut by `StreamBatches`: it repeats it and cuts it into
per-replica batches with the strategy's `distribute_datasets_from_function`, one input pipeline per
worker; its iterator is checkpointed, so a resumed run continues the stream where it stopped.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from trainer.data import PIXEL_MAX, Pixels, epoch_order, is_stream
from trainer.errors import ConfigError


class InMemoryBatches:
    """Shuffled batches of in-memory arrays, one per step; the last partial batch of an epoch is dropped.
    Each step's batch is the global one: under several replicas, each trains on its `replica_slice`."""

    global_batches = True

    def __init__(self, examples: tuple[np.ndarray, np.ndarray], batch_size: int, seed: int):
        x, y = examples
        self.size = len(x)
        self.batch_size = min(batch_size, self.size)
        self.steps_per_epoch = self.size // self.batch_size
        self.seed = tf.Variable(seed, dtype=tf.int64, trainable=False, name="seed")  # a variable: runs reuse the loop
        self.x = tf.convert_to_tensor(x.raw if isinstance(x, Pixels) else x)
        # the targets may be Pixels too (an autoencoder's are its inputs, the same array: held once)
        self.y = self.x if y is x else tf.convert_to_tensor(y.raw if isinstance(y, Pixels) else y)
        self.pixels = isinstance(x, Pixels), isinstance(y, Pixels)
        # Pixels are divided by a variable: Grappler and XLA turn a division by a constant into a multiplication
        # by its rounded reciprocal, which gives other floats than `pixel_values`.
        self.pixel_max = tf.Variable(PIXEL_MAX, trainable=False, name="pixel_max") if any(self.pixels) else None
        self.order = tf.Variable(tf.range(self.size), trainable=False, name="order")
        self.order_epoch = tf.Variable(tf.constant(-1, tf.int64), trainable=False, name="order_epoch")

    def batch(self, step):
        """The examples of training step `step` (a scalar int64 tensor), as the model takes them."""
        self.order_for(step)
        return self.read(*self.gather(step))

    def order_for(self, step) -> None:
        """Draw the order of the epoch of step `step` where it is new: once per epoch, and after a restart,
        since order_epoch begins at -1."""
        epoch = step // self.steps_per_epoch

        def reshuffle():
            self.order.assign(epoch_order(self.seed, epoch, self.size))
            self.order_epoch.assign(epoch)
            return tf.constant(True)

        tf.cond(tf.not_equal(epoch, self.order_epoch), reshuffle, lambda: tf.constant(False))

    def gather(self, step) -> tuple:
        """The examples of step `step` in its epoch's order, drawn already (`order_for`), as held: Pixels as
        bytes, which `read` converts."""
        start = (step % self.steps_per_epoch) * self.batch_size
        indices = self.order[start : start + self.batch_size]
        x = tf.gather(self.x, indices)
        return x, (x if self.y is self.x else tf.gather(self.y, indices))

    def read(self, x, y) -> tuple:
        """Gathered examples (x, y) as the model takes them: Pixels' bytes as float32 in [0, 1]; an autoencoder's
        targets, its inputs, converted once."""

        def converted(values, pixels: bool):
            return tf.cast(values, tf.float32) / self.pixel_max if pixels else values

        x = converted(x, self.pixels[0])
        return (x, x) if self.y is self.x else (x, converted(y, self.pixels[1]))

    def source(self, pipeline: str, step: tf.Variable) -> "Source":
        """The batches of the steps from `step` on: gathered in the loop itself ("graph"), where the step reads
        them (an XLA-compiled step converts Pixels inside its program: an MNIST epoch took 0.157 s rather than
        0.190 s on 2 cores), or computed ahead by a tf.data pipeline, which draws each epoch's order itself."""
        if pipeline == "graph":
            return Source(
                next_batch=lambda: self.gather(step),
                order=lambda: self.order_for(step),
                read=self.read,
                to_epoch_end=lambda taken: self.steps_per_epoch - taken % self.steps_per_epoch,
            )
        ahead = tf.data.Dataset.counter(int(step.numpy())).map(self.batch).prefetch(tf.data.AUTOTUNE)
        iterator = iter(ahead)
        return Source(next_batch=lambda: next(iterator))

    def checkpointed(self) -> dict:
        return {}  # the step counter is the data position

    def restart(self, seed: int) -> None:
        """Start over as if new, from `seed`: the next step shuffles the first epoch anew."""
        self.seed.assign(seed)
        self.order_epoch.assign(-1)


def replica_slice(batch):
    """This replica's part of a global batch: the `index`-th of `count` equal slices (called in a replica
    context; the batch size divides by the replica count)."""
    context = tf.distribute.get_replica_context()
    size = tf.shape(batch)[0] // context.num_replicas_in_sync
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * size
    return batch[start : start + size]


class StreamBatches:
    """Per-replica batches of a data set of examples, streamed: the data set (shuffled by its plugin) is
    sharded over the input pipelines, repeated, and batched; the last partial batch of an epoch is not
    dropped as such, the stream simply runs on into the next epoch."""

    global_batches = False

    def __init__(self, examples: tf.data.Dataset, batch_size: int, strategy: tf.distribute.Strategy):
        self.size = int(examples.cardinality())
        self.batch_size = min(batch_size, self.size)
        self.steps_per_epoch = self.size // self.batch_size

        def pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
            shard = examples.shard(context.num_input_pipelines, context.input_pipeline_id)
            batch = context.get_per_replica_batch_size(self.batch_size)
            return shard.repeat().batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

        self.iterator = iter(strategy.distribute_datasets_from_function(pipeline))

    def source(self, pipeline: str, step: tf.Variable) -> "Source":
        return Source(next_batch=lambda: next(self.iterator))

    def checkpointed(self) -> dict:
        return {"data": self.iterator}  # with its shuffle and prefetch buffers


class NoBatches:
    """Scalar problems: no examples, one step per 'epoch'; the objective is evaluated as it is."""

    steps_per_epoch = 1
    global_batches = False

    def source(self, pipeline: str, step: tf.Variable) -> "Source":
        return Source(next_batch=lambda: (None, None))

    def checkpointed(self) -> dict:
        return {}

    def restart(self, seed: int) -> None:
        """Nothing to start over."""


class Source(NamedTuple):
    """What the train loop calls for a run's batches: `next_batch()` for each step's (x, y) as held, `read(x, y)`,
    inside the step, for them as the model takes them, and `order()` before the steps up to the end of an epoch,
    `to_epoch_end(taken)` steps from `taken` steps (None where the loop draws no order)."""

    next_batch: Callable
    order: Callable = lambda: None
    read: Callable = lambda x, y: (x, y)  # batches held as the model takes them
    to_epoch_end: Callable | None = None


def global_batch_size(examples, batch_size: int) -> int | None:
    """The examples of each step: `batch_size`, or all of them where they are fewer; None without examples."""
    if examples is None:
        return None
    return min(batch_size, int(examples.cardinality()) if is_stream(examples) else len(examples[0]))


def make_batches(examples, batch_size: int, seed: int, strategy: tf.distribute.Strategy):
    """Batches of a split's examples (arrays or a data set), or none where the experiment has no data."""
    if examples is None:
        return NoBatches()
    if is_stream(examples):
        return StreamBatches(examples, batch_size, strategy)
    return InMemoryBatches(examples, batch_size, seed)


def hold_out(examples, fraction: float):
    """(train, validation): the last `fraction` of the examples held out, as Keras' validation_split does."""
    if examples is None:
        raise ConfigError("trainer.validation_split needs training examples; this experiment has none (data=none)")
    if is_stream(examples):
        raise ConfigError(
            "trainer.validation_split holds out part of in-memory examples; this data plugin streams "
            "them: hold out files of your own as its test split, or leave validation_split null"
        )
    x, y = examples
    held_out = int(len(x) * fraction)
    if not 0 < held_out < len(x):
        raise ConfigError(
            f"trainer.validation_split={fraction} holds out {held_out} of {len(x)} examples; "
            "it must leave at least one on each side"
        )
    return (x[:-held_out], y[:-held_out]), (x[-held_out:], y[-held_out:])
