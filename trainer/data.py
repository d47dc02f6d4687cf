"""The contract of data plugins: what one returns (`Splits` of in-memory arrays or `tf.data` streams),
8-bit images kept as bytes until read (`Pixels`), and the helpers plugins share to scale pixels and to
shuffle a stream. The loop cuts them into batches (trainer/loop/batching.py).

A data plugin may give a `tf.data.Dataset` of examples instead of arrays, for data larger than memory
(plugins/data/tfrecord.py, image_folder.py, tfds.py), of known size (`cardinality`).
"""

from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass
class Splits:
    """A data plugin's result per split: (features, labels) arrays, or a `tf.data.Dataset` of (x, y) examples
    of known size (`cardinality`); None where a split does not exist."""

    train: "tuple[np.ndarray, np.ndarray] | tf.data.Dataset | None" = None
    test: "tuple[np.ndarray, np.ndarray] | tf.data.Dataset | None" = None


def is_stream(examples) -> bool:
    return isinstance(examples, tf.data.Dataset)


PIXEL_MAX = 255.0  # an 8-bit pixel p reads as p / PIXEL_MAX


def pixel_values(pixels: np.ndarray) -> np.ndarray:
    """8-bit pixels as float32 in [0, 1]."""
    return pixels.astype(np.float32) / PIXEL_MAX


def pixel_tensor(pixels: tf.Tensor) -> tf.Tensor:
    """`pixel_values` of a tensor, for the streamed data plugins' tf.data pipelines (any numeric dtype)."""
    return tf.cast(pixels, tf.float32) / PIXEL_MAX


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


def stream_of(examples: tf.data.Dataset, size: int, shuffle_buffer: int | None, seed: int) -> tf.data.Dataset:
    """A data plugin's stream of `size` examples, shuffled anew each epoch within a buffer of `shuffle_buffer`
    examples (None: in the order read) from `seed`, so that every worker of a cluster sees the same order
    and takes its own shard of it. The buffer is saved with each checkpoint: keep it to what fits twice."""
    examples = examples.apply(tf.data.experimental.assert_cardinality(size))
    if shuffle_buffer:
        examples = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return examples


def held_in_memory(examples, limit: int):
    """A split's (x, y) arrays: in-memory ones as they are, the first `limit` examples of a stream."""
    if not is_stream(examples):
        return examples
    x, y = zip(*examples.take(limit).as_numpy_iterator())
    return np.stack(x), np.stack(y)
