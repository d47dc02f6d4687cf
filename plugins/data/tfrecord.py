"""Examples streamed from TFRecord files of `tf.train.Example`s, for data larger than memory: an image as
raw 8-bit pixels under `image` (read as float32 in [0, 1], in the shape `image_shape`) and an integer
class under `label`. `write_tfrecords` writes arrays in that format, e.g. to convert an mnist.npz.

What is read is checked (trainer/data.py): a file pattern that matches nothing, a file that is not a
TFRecord file, records without those features, an image of another size or a negative label stop the run
with a `DataError` naming the files and the problem. One pass over the training records, before the first
step, counts them, checks each one and finds the largest label; a config that states `examples` (and
`classes`) skips it, and each record is then checked as training reads it.
"""

import math
from pathlib import Path

import numpy as np
import tensorflow as tf

from trainer.config.ranges import valid
from trainer.data import Splits, checked_examples, failed_check, pixel_tensor, stream_of
from trainer.errors import DataError, find_trainer_error

FORMAT = "TFRecord files of tf.train.Examples with 'image' (raw uint8 bytes) and 'label' (int64) features"


@valid(
    train="any",
    test="any",
    image_shape="each int >= 1",
    examples="int >= 1 or null",
    classes="int >= 1 or null",
    shuffle_buffer="int >= 1 or null",
    seed="int >= 0",
)
def load_tfrecords(
    train: str,
    test: str | None = None,
    image_shape: list | None = None,
    examples: int | None = None,
    classes: int | None = None,
    shuffle_buffer: int | None = 10000,
    seed: int = 0,
) -> Splits:
    shape = tuple(image_shape or [28, 28])
    records = read_records(train, shape, "data.train")
    if examples is None:
        examples, largest = survey(records, train)
        classes = classes or largest + 1
    return Splits(
        train=stream_of(
            checked_examples(records, f"data.train: {train}", shape, classes), examples, shuffle_buffer, seed
        ),
        test=checked_examples(read_records(test, shape, "data.test"), f"data.test: {test}", shape, classes)
        if test
        else None,
        classes=classes,
    )


def files_of(pattern: str, key: str) -> list[str]:
    files = sorted(tf.io.gfile.glob(str(pattern)))
    if not files:
        raise DataError(f"{key}: no file matches {pattern}; give a path or a glob of {FORMAT}")
    return files


def survey(records: tf.data.Dataset, pattern: str) -> tuple[int, int]:
    """(how many examples, the largest label) of the training records, each checked as it is read."""
    checked = checked_examples(records, f"data.train: {pattern}", None, None)
    try:
        count, largest = checked.reduce(
            (np.int64(0), np.int64(-1)),
            lambda state, example: (state[0] + 1, tf.maximum(state[1], tf.cast(example[1], tf.int64))),
        )
    except tf.errors.OpError as error:
        raise find_trainer_error(error) or unreadable(pattern, error) from None
    if count == 0:
        raise DataError(f"data.train: {pattern} holds no records; {FORMAT}")
    return int(count), int(largest)


def unreadable(pattern: str, error: Exception) -> DataError:
    reason = str(getattr(error, "message", error)).split("}}")[-1].split(" [Op:")[0].strip().splitlines()[0][:160]
    return DataError(f"data: {pattern} cannot be read as {FORMAT} ({reason})")


def read_records(pattern: str, shape: tuple, key: str) -> tf.data.Dataset:
    files = files_of(pattern, key)
    features = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}
    size = math.prod(shape)

    def example(record):
        parsed = tf.io.parse_single_example(record, features)
        pixels = tf.io.decode_raw(parsed["image"], tf.uint8)
        fits = tf.debugging.Assert(
            tf.equal(tf.size(pixels), size),
            [failed_check(f"{key}: {pattern} holds an image of ", tf.size(pixels), f" bytes, not {size} {shape}")],
        )
        with tf.control_dependencies([fits]):
            return pixel_tensor(tf.reshape(pixels, shape)), tf.cast(parsed["label"], tf.int32)

    try:
        first = next(iter(tf.data.TFRecordDataset(files[:1]).take(1)), None)
        if first is not None:
            example(first)
    except (tf.errors.OpError, ValueError) as error:
        raise find_trainer_error(error) or unreadable(files[0], error) from None
    return tf.data.TFRecordDataset(files).map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def write_tfrecords(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """Write uint8 `images` and their integer `labels` as one TFRecord file in this plugin's format."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for image, label in zip(images, labels):
            features = {
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.astype(np.uint8).tobytes()])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    return path
