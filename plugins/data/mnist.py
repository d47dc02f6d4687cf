"""MNIST handwritten digits, read from a Keras-format `mnist.npz` (x_train, y_train, x_test, y_test).

Pixels become float32 in [0, 1] and labels int32. With no path, Keras' own downloader fetches the file
once into ~/.keras/datasets. `write_synthetic_mnist` makes a small file of the same format for offline
tests and benchmarks.
"""
from pathlib import Path

import numpy as np

from trainer.data import Splits


def load_mnist(path: str | None = None) -> Splits:
    if path is None:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    else:
        with np.load(path, allow_pickle=False) as arrays:
            x_train, y_train, x_test, y_test = (arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    return Splits(train=_examples(x_train, y_train), test=_examples(x_test, y_test))


def _examples(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (images.astype(np.float32) / 255.0, labels.astype(np.int32))


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
