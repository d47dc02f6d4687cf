"""A TensorFlow Datasets data set by name, streamed (`pip install 'trainer[tfds]'`): its images as float32 in
[0, 1] where they are 8-bit, its labels as int32. The data must have been prepared in `data_dir` already
(`tfds build NAME`, or `download=true` on a connected machine): runs never download by surprise."""

import tensorflow as tf

from trainer.config.ranges import valid
from trainer.data import Splits, pixel_tensor, stream_of
from trainer.errors import DataError


@valid(
    name="any",
    data_dir="any",
    train_split="any",
    test_split="any",
    shuffle_buffer="int >= 1 or null",
    seed="int >= 0",
)
def load_tfds(
    name: str,
    data_dir: str | None = None,
    train_split: str = "train",
    test_split: str | None = "test",
    download: bool = False,
    shuffle_buffer: int | None = 10000,
    seed: int = 0,
) -> Splits:
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataError("data=tfds needs tensorflow-datasets: pip install 'trainer[tfds]'") from None
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        splits = {
            split: builder.as_dataset(split=split, as_supervised=True).map(scaled)
            for split in (train_split, test_split)
            if split
        }
    except Exception as error:  # an unknown name, a data set not prepared, a split it does not have
        raise DataError(
            f"data: tensorflow_datasets cannot give {name} in {data_dir or 'its default folder'} "
            f"({' '.join(str(error).split())[:200]})"
        ) from None
    size = builder.info.splits[train_split].num_examples
    if size == 0:
        raise DataError(f"data: {name}'s split {train_split} has no examples")
    label = builder.info.features["label"] if "label" in builder.info.features else None
    classes = getattr(label, "num_classes", None)
    return Splits(
        train=stream_of(splits[train_split], size, shuffle_buffer, seed),
        test=splits.get(test_split),
        classes=classes,
    )


def scaled(image, label):
    if image.dtype == tf.uint8:
        image = pixel_tensor(image)
    return image, tf.cast(label, tf.int32)
