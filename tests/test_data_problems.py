"""The DeepOBS-style data problems: Fashion-MNIST and CIFAR-10 read from the files Keras caches (written
here, small, in the same formats), bad files refused by name, and the logistic regression and 2c2d CNN
trained on them through the framework."""

import gzip
import pickle
from collections import OrderedDict

import numpy as np
import pytest
from hydra.utils import instantiate
from trainer.plugins.data.cifar10 import load_cifar10, write_synthetic_cifar10
from trainer.plugins.data.fashion_mnist import load_fashion_mnist, write_synthetic_fashion_mnist
from trainer.plugins.data.mnist import synthetic_images

from trainer.errors import DataError
from trainer.train import train


def test_fashion_mnist_reads_the_four_idx_files_as_written(tmp_path):
    splits = load_fashion_mnist(str(write_synthetic_fashion_mnist(tmp_path, train=64, test=16)))
    (x_train, y_train), (x_test, y_test) = synthetic_images((28, 28), (64, 16), 0)

    np.testing.assert_array_equal(splits.train[0].raw, x_train)
    np.testing.assert_array_equal(splits.test[1], y_test)
    assert splits.train[1].dtype == np.int32 and splits.test[0].shape == (16, 28, 28)


def test_cifar10_reads_the_pickled_batches_channels_last(tmp_path):
    splits = load_cifar10(str(write_synthetic_cifar10(tmp_path, train=50, test=10)))
    (x_train, y_train), (x_test, y_test) = synthetic_images((32, 32, 3), (50, 10), 0)

    np.testing.assert_array_equal(splits.train[0].raw, x_train)
    np.testing.assert_array_equal(splits.train[1], y_train)
    assert splits.test[0].shape == (10, 32, 32, 3) and splits.test[1].dtype == np.int32


def test_bad_files_are_refused_by_name(tmp_path):
    fashion = write_synthetic_fashion_mnist(tmp_path / "fashion", train=8, test=8)
    (fashion / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz cannot be read as a gzip file"):
        load_fashion_mnist(str(fashion))
    with gzip.open(fashion / "t10k-labels-idx1-ubyte.gz", "wb") as file:
        file.write(b"\x00\x00\x0d\x01")  # an IDX file of floats
    with pytest.raises(DataError, match="is not an IDX file of unsigned bytes"):
        load_fashion_mnist(str(fashion))

    cifar = write_synthetic_cifar10(tmp_path / "cifar", train=10, test=5)
    (cifar / "test_batch").write_bytes(pickle.dumps({b"data": OrderedDict(), b"labels": []}))
    with pytest.raises(
        DataError, match="test_batch cannot be read as a CIFAR-10 batch .it names collections.OrderedDict"
    ):
        load_cifar10(str(cifar))
    with pytest.raises(DataError, match="no file"):
        load_cifar10(str(tmp_path / "nowhere"))


def test_the_2c2d_network_has_deepobs_layers(make_config):
    model = instantiate(make_config("experiment=mnist", "model=cnn_2c2d").model)
    kinds = [
        (type(layer).__name__, getattr(layer, "filters", None) or getattr(layer, "units", None))
        for layer in model.layers
    ]

    assert kinds == [
        ("Reshape", None),
        ("Conv2D", 32),
        ("MaxPooling2D", None),
        ("Conv2D", 64),
        ("MaxPooling2D", None),
        ("Flatten", None),
        ("Dense", 1024),
        ("Dense", 10),
    ]
    assert model.count_params() == 832 + 51264 + 7 * 7 * 64 * 1024 + 1024 + 10250


@pytest.mark.parametrize(
    "data, model, shape", [("fashion_mnist", "logistic_regression", "[28,28]"), ("cifar10", "cnn_2c2d", "[32,32,3]")]
)
def test_the_data_problems_train(make_config, tmp_path, data, model, shape):
    """Deterministic, so without XLA: once a test has turned op determinism on in this process, XLA refuses
    MaxPool's gradient."""
    writer = {"fashion_mnist": write_synthetic_fashion_mnist, "cifar10": write_synthetic_cifar10}[data]
    path = writer(tmp_path / data, train=64, test=32)
    metrics = train(
        make_config(
            "experiment=mnist",
            f"data={data}",
            f"data.path={path}",
            f"model={model}",
            f"model.input_shape={shape}",
            "trainer.steps=4",
            "trainer.batch_size=16",
            "logging.pictures=false",
            "logging.graph=false",
            "trainer.deterministic=true",
        )
    )

    assert metrics["steps"] == 4 and 0 <= metrics["test_accuracy"] <= 1
