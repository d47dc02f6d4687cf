"""Images streamed from a folder per class (`train/<class name>/*.png`, ...), read by Keras'
`image_dataset_from_directory`: resized to `image_size`, pixels as float32 in [0, 1], classes numbered in
the alphabetical order of their folders. Grey images read as (height, width), as keras.datasets.mnist gives
them, so that the MNIST models take them unchanged. A folder that is missing or holds no images, or a test
folder whose classes are not the training folder's, stops the run with a `DataError` naming it."""

from pathlib import Path

import tensorflow as tf

from trainer.config.ranges import valid
from trainer.data import Splits, pixel_tensor, stream_of
from trainer.errors import DataError

COLOR_MODES = ("grayscale", "rgb", "rgba")


@valid(
    train="any",
    test="any",
    image_size="each int >= 1",
    color_mode="one of " + ", ".join(COLOR_MODES),
    shuffle_buffer="int >= 1 or null",
    seed="int >= 0",
)
def load_image_folder(
    train: str,
    test: str | None = None,
    image_size: list | None = None,
    color_mode: str = "grayscale",
    shuffle_buffer: int | None = 10000,
    seed: int = 0,
) -> Splits:
    size = tuple(image_size or [28, 28])
    train_images, count, classes = read_folder(train, size, color_mode)
    test_images = None
    if test:
        test_images, _, test_classes = read_folder(test, size, color_mode)
        if test_classes != classes:
            raise DataError(
                f"data.test: {test} has the classes {', '.join(test_classes)}, and data.train: {train} has "
                f"{', '.join(classes)}; the two folders need the same class subfolders"
            )
    return Splits(train=stream_of(train_images, count, shuffle_buffer, seed), test=test_images, classes=len(classes))


def read_folder(directory: str, size: tuple, color_mode: str) -> tuple[tf.data.Dataset, int, list[str]]:
    """The folder's (image, label) examples in file order, how many there are, and its classes in order."""
    import keras

    if not Path(directory).is_dir():
        raise DataError(f"data: no folder {directory}; give a folder with one subfolder of images per class")
    images = keras.utils.image_dataset_from_directory(
        directory, color_mode=color_mode, batch_size=None, image_size=size, shuffle=False, verbose=False
    )
    if not images.file_paths:
        raise DataError(f"data: {directory} holds no images in class subfolders (.png, .jpg, .jpeg, .bmp, .gif)")

    def scaled(image, label):
        image = pixel_tensor(image)  # 0-255 floats
        return (image[..., 0] if color_mode == "grayscale" else image), tf.cast(label, tf.int32)

    examples = images.map(scaled, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return examples, len(images.file_paths), list(images.class_names)
