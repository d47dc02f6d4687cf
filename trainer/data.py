"""The contract of data plugins: what one returns (`Splits` of in-memory arrays or `tf.data` streams),
8-bit images kept as bytes until read (`Pixels`), and the helpers plugins share to check what they read, to
scale pixels and to shuffle a stream. The loop cuts them into batches (trainer/loop/batching.py).

A data plugin may give a `tf.data.Dataset` of examples instead of arrays, for data larger than memory
(plugins/data/tfrecord.py, image_folder.py, tfds.py), of known size (`cardinality`).

A plugin's reader of a file into arrays may be `kept_while_unchanged`: a process reads the file once while it
stays as it was, and the runs share what it read, read-only.

Every plugin checks what it reads, in memory (`check_arrays`) or as it streams (`checked_examples`): the
shape and type of the images, labels that are integers in [0, classes), a split that is not empty; a
failure names the file and the problem in one line (a `DataError`). The classification task then checks
the labels against the model's outputs (plugins/tasks/classification.py).
"""

import functools
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from trainer.errors import DATA_CHECK, DataError


@dataclass
class Splits:
    """A data plugin's result per split: (features, labels) arrays, or a `tf.data.Dataset` of (x, y) examples
    of known size (`cardinality`); None where a split does not exist."""

    train: "tuple[np.ndarray, np.ndarray] | tf.data.Dataset | None" = None
    test: "tuple[np.ndarray, np.ndarray] | tf.data.Dataset | None" = None
    classes: int | None = None  # the label values a stream may hold, 0..classes-1, where its plugin knows them


KEEP_READ_BYTES = 1 << 30  # what the files kept by `kept_while_unchanged` may hold together; the latest is kept


def kept_while_unchanged(read):
    """`read(path)`, a plugin's reader of a file into arrays (an array, or a tuple or dict of them), kept for the
    process while the file is the same one with the same size and modification time: the runs of a sweep that
    share no built program (another model, a population's runs, trainer/loop/population.py) read their data set
    once, where MNIST's file took 0.13 to 0.25 s a run on 2 cores. The arrays kept are read-only, so that no run
    changes what another reads. The most recent files are kept, within KEEP_READ_BYTES; an error is not kept,
    nor a file that changed while it was read."""
    kept: OrderedDict[tuple, tuple] = OrderedDict()  # by file: what `read` gave, and its arrays

    @functools.wraps(read)
    def read_once(path: Path):
        try:
            key = file_key(path)
        except OSError:
            return read(path)  # the reader names what is wrong
        if key not in kept:
            result = read(path)
            if file_key(path) != key:
                return result
            kept[key] = result, arrays_in(result)
            for array in kept[key][1]:
                array.setflags(write=False)
            while len(kept) > 1 and sum(a.nbytes for _, held in kept.values() for a in held) > KEEP_READ_BYTES:
                kept.popitem(last=False)
        kept.move_to_end(key)
        result = kept[key][0]
        return dict(result) if isinstance(result, dict) else result  # a dict of its own: the arrays are shared

    return read_once


def file_key(path: Path) -> tuple:
    """Which file `path` is (an atomic replace makes another), its size and its modification time."""
    status = path.stat()
    return str(path.resolve()), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def arrays_in(result) -> list:
    """The arrays of what a reader read: an array, or a tuple or dict of them."""
    if isinstance(result, dict):
        return list(result.values())
    return list(result) if isinstance(result, tuple) else [result]


def check_arrays(source, split: str, images, labels, shape: tuple, classes: int | None, expected: str) -> None:
    """A split's (images, labels) arrays as a plugin read them from `source`: at least one example, 8-bit
    images of `shape`, one integer label each in [0, classes); else a DataError naming `source`, the split
    and `expected`, the format in words."""
    if len(images) == 0:
        raise DataError(f"{source} has no {split} examples (x_{split} is empty); {expected}")
    if images.shape[1:] != tuple(shape) or images.dtype != np.uint8:
        raise DataError(f"{source} x_{split} is {images.dtype} {images.shape}; {expected}")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{source} y_{split} is {labels.dtype} {labels.shape} for {len(images)} images; {expected}")
    if labels.min() < 0 or classes is not None and labels.max() >= classes:
        raise DataError(f"{source} y_{split} has labels {labels.min()} to {labels.max()}; {expected}")


def checked_examples(examples: tf.data.Dataset, source, shape: tuple | None, classes: int | None) -> tf.data.Dataset:
    """A stream of (image, label) examples, each checked as it is read: an image of `shape` (any where None),
    an integer label in [0, classes) (>= 0 where `classes` is None). A failed check stops the run with a
    DataError naming `source` (trainer/errors.py reads it from the pipeline's error)."""
    expected = tf.constant(shape or [], tf.int64)
    valid = f"0 to {classes - 1}" if classes else "0 or more"

    def checked(image, label):
        fits = tf.reduce_all(tf.equal(tf.shape(image, tf.int64), expected)) if shape else tf.constant(True)
        bounded = tf.logical_and(label >= 0, label < classes) if classes else label >= 0
        checks = [
            tf.debugging.Assert(
                fits, [failed_check(f"{source} holds an image of shape (", tf.shape(image), f"), not {shape}")]
            ),
            tf.debugging.Assert(
                bounded, [failed_check(f"{source} holds the label ", label, f"; labels must be {valid}")]
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(image), tf.identity(label)

    return examples.map(checked)


def failed_check(before: str, value: tf.Tensor, after: str) -> tf.Tensor:
    """The message of a failed check in a tf.data pipeline: DATA_CHECK, `before`, the offending `value`,
    `after`."""
    shown = tf.strings.reduce_join(tf.strings.as_string(tf.reshape(value, [-1])), separator=", ")
    return tf.strings.join([DATA_CHECK + before, shown, after])


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

    @property
    def nbytes(self) -> int:
        """The memory it holds (a quarter of its floats')."""
        return self.raw.nbytes

    def __getitem__(self, index) -> np.ndarray:
        return pixel_values(self.raw[index])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = pixel_values(self.raw)
        return values if dtype is None else values.astype(dtype, copy=False)


def epoch_order(seed: tf.Tensor, epoch: tf.Tensor, size: int) -> tf.Tensor:
    """A permutation of `size` examples, a function of (seed, epoch) alone: the argsort of seeded uniforms,
    which XLA compiles (stateless_shuffle it cannot)."""
    return tf.argsort(tf.random.stateless_uniform([size], seed=tf.stack([seed, epoch])))


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
