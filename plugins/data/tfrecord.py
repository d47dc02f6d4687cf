"""Examples streamed from TFRecord files of `tf.train.Example`s, for data larger than memory: an image as
raw 8-bit pixels under `image` (read as float32 in [0, 1], in the shape `image_shape`) and an integer
class under `label`. `write_tfrecords` writes arrays in that format, e.g. to convert an mnist.npz.

A file pattern that matches nothing, or records without those features, stops the run with a `DataError`
naming the pattern and the format. The number of examples is counted with one pass over the records
(no parsing) unless the config states it.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from trainer.data import Splits, pixel_tensor, stream_of
from trainer.errors import DataError

FORMAT = "TFRecord files of tf.train.Examples with 'image' (raw uint8 bytes) and 'label' (int64) features"


def load_tfrecords(
    train: str,
    test: str | None = None,
    image_shape: list | None = None,
    examples: int | None = None,
    shuffle_buffer: int | None = 10000,
    seed: int = 0,
) -> Splits:
    shape = list(image_shape or [28, 28])
    return Splits(
        train=stream_of(read_records(train, shape), examples or count_records(train), shuffle_buffer, seed),
        test=read_records(test, shape) if test else None,
    )


def files_of(pattern: str) -> list[str]:
    files = sorted(tf.io.gfile.glob(str(pattern)))
    if not files:
        raise DataError(f"data: no file matches {pattern}; give a path or a glob of {FORMAT}")
    return files


def count_records(pattern: str) -> int:
    return int(tf.data.TFRecordDataset(files_of(pattern)).reduce(np.int64(0), lambda count, _: count + 1))


def read_records(pattern: str, shape: list) -> tf.data.Dataset:
    files = files_of(pattern)
    features = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}

    def example(record):
        parsed = tf.io.parse_single_example(record, features)
        pixels = tf.reshape(tf.io.decode_raw(parsed["image"], tf.uint8), shape)
        return pixel_tensor(pixels), tf.cast(parsed["label"], tf.int32)

    first = next(iter(tf.data.TFRecordDataset(files[:1]).take(1)), None)
    if first is not None:
        try:
            example(first)
        except (tf.errors.InvalidArgumentError, ValueError) as error:
            raise DataError(
                f"data: {files[0]} does not hold {FORMAT} of shape {shape} ({str(error).splitlines()[0][:120]})"
            ) from None
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
