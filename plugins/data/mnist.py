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

from trainer.config.ranges import valid
from trainer.data import Pixels, Splits, check_arrays, kept_while_unchanged
from trainer.errors import DataError

ARRAYS = ("x_train", "y_train", "x_test", "y_test")
FORMAT = "a Keras-format mnist.npz holds x_train, x_test (N, 28, 28) uint8 and y_train, y_test (N,) labels 0-9"


@valid(path="any")
def load_mnist(path: str | None = None) -> Splits:
    if path is None:
        return download_keras_dataset("mnist", "MNIST")
    arrays = read_arrays(Path(path))
    for split in ("train", "test"):
        check_arrays(f"data.path: {path}", split, arrays[f"x_{split}"], arrays[f"y_{split}"], (28, 28), 10, FORMAT)
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


@kept_while_unchanged
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
