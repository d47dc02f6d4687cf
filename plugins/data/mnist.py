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
        return download_mnist()
    arrays = read_arrays(Path(path))
    for split in ("train", "test"):
        check_split(path, arrays[f"x_{split}"], arrays[f"y_{split}"], split)
    return Splits(train=_examples(arrays["x_train"], arrays["y_train"]), test=_examples(arrays["x_test"], arrays["y_test"]))


def download_mnist() -> Splits:
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # no network, or a proxy's error page
        raise DataError(f"data.path is not set and Keras could not download MNIST ({error}); set "
                        "data.path=/path/to/mnist.npz") from error
    return Splits(train=_examples(x_train, y_train), test=_examples(x_test, y_test))


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"data.path: no file at {path.resolve()}; set data.path to {FORMAT.split(' holds')[0]}, or "
                        "leave it unset to download one with keras.datasets.mnist.load_data() on a connected machine")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [name for name in ARRAYS if name not in npz.files]
            if missing:
                raise DataError(f"data.path: {path} has no {', '.join(missing)} (it has {', '.join(npz.files) or 'nothing'}); {FORMAT}")
            return {name: npz[name] for name in ARRAYS}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # not a zip, truncated, pickled
        raise DataError(f"data.path: {path} cannot be read as an .npz file ({error}); {FORMAT}") from error


def check_split(path, images: np.ndarray, labels: np.ndarray, split: str) -> None:
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(f"data.path: {path} x_{split} is {images.dtype} {images.shape}; {FORMAT}")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"data.path: {path} y_{split} is {labels.dtype} {labels.shape} for {len(images)} images; {FORMAT}")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"data.path: {path} y_{split} has labels {labels.min()} to {labels.max()}; {FORMAT}")


def _examples(images: np.ndarray, labels: np.ndarray) -> tuple[Pixels, np.ndarray]:
    return (Pixels(images), labels.astype(np.int32))


def write_synthetic_mnist(path: Path, train: int = 1024, test: int = 256, seed: int = 0) -> Path:
    """Write a Keras-format mnist.npz of learnable fake digits: one fixed noisy template per class."""
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, size=(10, 28, 28))

    def split(n):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        noise = rng.integers(-60, 61, size=(n, 28, 28))
        return np.clip(templates[labels] + noise, 0, 255).astype(np.uint8), labels

    (x_train, y_train), (x_test, y_test) = split(train), split(test)
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path
