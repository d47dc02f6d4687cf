"""CIFAR-10 (32x32 colour images, 10 classes), read from a `cifar-10-batches-py` directory as
`keras.datasets.cifar10` reads it: the pickled batches data_batch_1 ... data_batch_5 (training) and
test_batch, each a dict of b"data" ((N, 3072) uint8, the red, green and blue planes in turn) and b"labels".

Images come out channels last, (N, 32, 32, 3), pixels as float32 in [0, 1] and labels as int32. The batches
are unpickled with only the few globals a NumPy array needs: a pickle can carry code, and one that names
anything else stops the run with a `DataError`. With no path, Keras' own downloader fetches the files
once into ~/.keras/datasets. `write_synthetic_cifar10` writes a small directory of the same format.

Reference: A. Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", tech. report, 2009.
"""

import pickle
from pathlib import Path

import numpy as np
from trainer.plugins.data.mnist import download_keras_dataset, labelled_pixels, synthetic_images

from trainer.config.ranges import valid
from trainer.data import Splits, check_arrays, kept_while_unchanged
from trainer.errors import DataError

BATCHES = {"train": [f"data_batch_{number}" for number in range(1, 6)], "test": ["test_batch"]}
FORMAT = (
    "a cifar-10-batches-py directory holds data_batch_1 ... data_batch_5 and test_batch: pickled dicts of "
    "b'data' (N, 3072) uint8 and b'labels' 0-9"
)
SHAPE = (32, 32, 3)
ARRAY_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, numbers, bytes and NumPy arrays, and refuses any other global."""

    def find_class(self, module, name):
        if (module, name) not in ARRAY_GLOBALS:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 batch has no need of")
        return super().find_class(module, name)


@valid(path="any")
def load_cifar10(path: str | None = None) -> Splits:
    if path is None:
        return download_keras_dataset("cifar10", "CIFAR-10")
    directory = Path(path)
    splits = {}
    for split, names in BATCHES.items():
        images, labels = zip(*(read_batch(directory / name) for name in names))
        images, labels = np.concatenate(images), np.concatenate(labels)
        check_arrays(f"data.path: {directory}", split, images, labels, SHAPE, 10, FORMAT)
        splits[split] = labelled_pixels(images, labels)
    return Splits(**splits)


@kept_while_unchanged
def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch as (N, 32, 32, 3) uint8 images and (N,) labels."""
    if not path.is_file():
        raise DataError(f"data.path: no file {path.resolve()}; {FORMAT}")
    try:
        with open(path, "rb") as file:
            batch = ArrayUnpickler(file, encoding="bytes").load()
        data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    except (pickle.UnpicklingError, EOFError, TypeError, KeyError, ValueError) as error:
        raise DataError(f"data.path: {path} cannot be read as a CIFAR-10 batch ({error}); {FORMAT}") from error
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != np.prod(SHAPE):
        raise DataError(f"data.path: {path} b'data' is {data.dtype} {data.shape}; {FORMAT}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def write_synthetic_cifar10(directory: Path, train: int = 500, test: int = 100, seed: int = 0) -> Path:
    """Write a cifar-10-batches-py directory of learnable fake images into `directory`; return it. The
    training images are shared out over the five batches."""
    directory.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = synthetic_images(SHAPE, (train, test), seed)
    parts = zip(np.array_split(x_train, 5), np.array_split(y_train, 5))
    for name, (images, labels) in zip(BATCHES["train"] + BATCHES["test"], [*parts, (x_test, y_test)]):
        batch = {
            b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),
            b"labels": [int(label) for label in labels],
        }
        (directory / name).write_bytes(pickle.dumps(batch))
    return directory
