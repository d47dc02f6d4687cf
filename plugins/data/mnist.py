"""MNIST handwritten digits, read from a Keras-format `mnist.npz` (x_train, y_train, x_test, y_test).

Pixels read as float32 in [0, 1] and labels are int32; the images stay bytes until read
(`trainer.data.Pixels`), and the train loop converts each batch as it gathers it. With no path, Keras'
own downloader fetches the file once into ~/.keras/datasets. A file that cannot be used stops the run
with a `DataError` naming the file and what is wrong: missing, not an .npz, a missing array, or arrays of
the wrong shape, type or labels. Files are read with `allow_pickle=False`: an .npz can carry pickled code.
`write_synthetic_mnist` makes a small file of the same format for offline tests and benchmarks.
"""

import zipfile
from pathlib import Path

import numpy as np

from trainer.data import Pixels, Splits
from trainer.errors import DataError

ARRAYS = ("x_train", "y_train", "x_test", "y_test")
FORMAT = "a Keras-format mnist.npz holds x_train, x_test (N, 28, 28) uint8 and y_train, y_test (N,) labels 0-9"


def load_mnist(path: str | None = None) -> Splits:
    if path is None:
        return download_keras_dataset("mnist", "MNIST")
    arrays = read_arrays(Path(path))
    for split in ("train", "test"):
        check_split(path, arrays[f"x_{split}"], arrays[f"y_{split}"], split)
    return Splits(
        train=labelled_pixels(arrays["x_train"], arrays["y_train"]),
        test=labelled_pixels(arrays["x_test"], arrays["y_test"]),
    )


def download_keras_dataset(name: str, title: str) -> Splits:
    """`keras.datasets.<name>.load_data()`: downloaded once into ~/.keras/datasets, in the format the data
    plugins read from a path."""
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as error:  # no network, or a proxy's error page
        raise DataError(
            f"data.path is not set and Keras could not download {title} ({error}); set data.path to a copy of its files"
        ) from error
    return Splits(train=labelled_pixels(x_train, y_train.reshape(-1)), test=labelled_pixels(x_test, y_test.reshape(-1)))


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(
            f"data.path: no file at {path.resolve()}; set data.path to {FORMAT.split(' holds')[0]}, or "
            "leave it unset to download one with keras.datasets.mnist.load_data() on a connected machine"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [name for name in ARRAYS if name not in npz.files]
            if missing:
                found = ", ".join(npz.files) or "nothing"
                raise DataError(f"data.path: {path} has no {', '.join(missing)} (it has {found}); {FORMAT}")
            return {name: npz[name] for name in ARRAYS}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # not a zip, truncated, pickled
        raise DataError(f"data.path: {path} cannot be read as an .npz file ({error}); {FORMAT}") from error


def check_split(
    path, images: np.ndarray, labels: np.ndarray, split: str, shape: tuple = (28, 28), expected: str = FORMAT
) -> None:
    """Images of `shape` in uint8 and one integer label 0-9 each; else a DataError naming `path` and `expected`."""
    if images.shape[1:] != shape or images.dtype != np.uint8:
        raise DataError(f"data.path: {path} x_{split} is {images.dtype} {images.shape}; {expected}")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"data.path: {path} y_{split} is {labels.dtype} {labels.shape} for {len(images)} images; {expected}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"data.path: {path} y_{split} has labels {labels.min()} to {labels.max()}; {expected}")


def labelled_pixels(images: np.ndarray, labels: np.ndarray) -> tuple[Pixels, np.ndarray]:
    return (Pixels(images), labels.astype(np.int32))


def synthetic_images(shape: tuple, counts: tuple[int, int], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Learnable fake (images, labels) uint8 splits of `counts` examples: one fixed noisy template per class."""
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, size=(10, *shape))

    def split(n):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        noise = rng.integers(-60, 61, size=(n, *shape))
        return np.clip(templates[labels] + noise, 0, 255).astype(np.uint8), labels

    return [split(n) for n in counts]


def write_synthetic_mnist(path: Path, train: int = 1024, test: int = 256, seed: int = 0) -> Path:
    """Write a Keras-format mnist.npz of learnable fake digits."""
    (x_train, y_train), (x_test, y_test) = synthetic_images((28, 28), (train, test), seed)
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path
