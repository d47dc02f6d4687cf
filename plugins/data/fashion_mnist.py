"""Fashion-MNIST (Zalando's 28x28 grey images of clothes, 10 classes), read from a directory holding the
four gzipped IDX files as `keras.datasets.fashion_mnist` caches them (train-images-idx3-ubyte.gz,
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz).

Pixels read as float32 in [0, 1] and labels as int32, as for MNIST (plugins/data/mnist.py). With no path,
Keras' own downloader fetches the files once into ~/.keras/datasets/fashion-mnist. A file that cannot be
used stops the run with a `DataError` naming it. `write_synthetic_fashion_mnist` writes a small directory
of the same format for offline tests.

Reference: H. Xiao, K. Rasul and R. Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking
Machine Learning Algorithms", arXiv:1708.07747, 2017.
"""

import gzip
import math
import zlib
from pathlib import Path

import numpy as np
from trainer.plugins.data.mnist import download_keras_dataset, labelled_pixels, synthetic_images

from trainer.config.ranges import valid
from trainer.data import Splits, check_arrays, kept_while_unchanged
from trainer.errors import DataError

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FORMAT = (
    "a Fashion-MNIST directory holds "
    + ", ".join(name for pair in FILES.values() for name in pair)
    + ": gzipped IDX files of (N, 28, 28) uint8 images and (N,) labels 0-9"
)
IDX_UBYTE = b"\x00\x00\x08"  # an IDX file's magic number starts so for unsigned bytes; then its number of axes


@valid(path="any")
def load_fashion_mnist(path: str | None = None) -> Splits:
    if path is None:
        return download_keras_dataset("fashion_mnist", "Fashion-MNIST")
    directory = Path(path)
    splits = {}
    for split, (images_file, labels_file) in FILES.items():
        images, labels = read_idx(directory / images_file), read_idx(directory / labels_file)
        check_arrays(f"data.path: {directory}", split, images, labels, (28, 28), 10, FORMAT)
        splits[split] = labelled_pixels(images, labels)
    return Splits(**splits)


@kept_while_unchanged
def read_idx(path: Path) -> np.ndarray:
    """A gzipped IDX file of unsigned bytes: its magic number, its sizes (big-endian int32), its data."""
    if not path.is_file():
        raise DataError(f"data.path: no file {path.resolve()}; {FORMAT}")
    try:
        with gzip.open(path) as file:
            data = file.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"data.path: {path} cannot be read as a gzip file ({error}); {FORMAT}") from error
    if len(data) < 4 or data[:3] != IDX_UBYTE or len(data) < 4 + 4 * data[3]:
        raise DataError(f"data.path: {path} is not an IDX file of unsigned bytes; {FORMAT}")
    shape = tuple(int(size) for size in np.frombuffer(data, ">i4", count=data[3], offset=4))
    values = np.frombuffer(data, np.uint8, offset=4 + 4 * len(shape))
    if values.size != math.prod(shape):
        raise DataError(f"data.path: {path} holds {values.size} bytes for the shape {shape}; {FORMAT}")
    return values.reshape(shape)


def write_idx(path: Path, values: np.ndarray) -> None:
    header = IDX_UBYTE + bytes([values.ndim]) + np.array(values.shape, ">i4").tobytes()
    with gzip.open(path, "wb") as file:
        file.write(header + values.astype(np.uint8).tobytes())


def write_synthetic_fashion_mnist(directory: Path, train: int = 512, test: int = 128, seed: int = 0) -> Path:
    """Write the four IDX files of learnable fake images into `directory`; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for (images_file, labels_file), (images, labels) in zip(
        FILES.values(), synthetic_images((28, 28), (train, test), seed)
    ):
        write_idx(directory / images_file, images)
        write_idx(directory / labels_file, labels)
    return directory
