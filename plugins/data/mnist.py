"""MNIST handwritten digits, read from a Keras-format `mnist.npz` (x_train, y_train, x_test, y_test).

Pixels become float32 in [0, 1] and labels int32. With no path, Keras' own downloader fetches the file
once into ~/.keras/datasets.
"""
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
