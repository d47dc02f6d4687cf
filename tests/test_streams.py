"""Data plugins that stream examples from files (TFRecord, a folder of images per class): runs train end
to end from files written here, and a run resumed mid-epoch continues the stream where it stopped."""

import json

import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.data.image_folder import load_image_folder
from trainer.plugins.data.mnist import synthetic_images
from trainer.plugins.data.tfds import load_tfds
from trainer.plugins.data.tfrecord import load_tfrecords

from tests.conftest import final_weights, read_scalars, write_image_folders, write_mnist_tfrecords
from trainer.errors import ConfigError, DataError
from trainer.train import train

STREAMED = ["experiment=mnist", "trainer.log_every=4", "logging.pictures=false", "trainer.batch_size=32"]


def test_tfrecord_examples_read_back_as_written(tmp_path):
    files = write_mnist_tfrecords(tmp_path)
    (x, y), _ = synthetic_images((28, 28), (256, 64), seed=0)
    splits = load_tfrecords(str(files["train"]), str(files["test"]), shuffle_buffer=None)

    assert int(splits.train.cardinality()) == 256
    images, labels = zip(*splits.train.as_numpy_iterator())
    np.testing.assert_array_equal(np.stack(images), x.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(labels, y)


def test_image_folder_reads_grey_images_as_mnist_arrays(tmp_path):
    folders = write_image_folders(tmp_path)
    (x, y), _ = synthetic_images((28, 28), (128, 32), seed=0)
    splits = load_image_folder(str(folders["train"]), shuffle_buffer=None)

    images, labels = zip(*splits.train.as_numpy_iterator())
    assert np.stack(images).shape == (128, 28, 28)
    order = np.lexsort((np.arange(128), y.astype(str)))  # by class folder name, then file name
    np.testing.assert_allclose(np.stack(images), x[order] / 255.0, atol=1e-6)
    np.testing.assert_array_equal(labels, y[order])


@pytest.mark.parametrize("write, plugin", [(write_mnist_tfrecords, "tfrecord"), (write_image_folders, "image_folder")])
def test_streamed_data_trains_end_to_end(make_config, tmp_path, write, plugin):
    files = write(tmp_path)
    metrics = train(
        make_config(
            *STREAMED,
            f"data={plugin}",
            f"data.train={files['train']}",
            f"data.test={files['test']}",
            "trainer.epochs=3",
            *(f"actions.{name}.every=4" for name in ("curvature", "gradient_noise", "updates")),
            "logging.histogram_every=4",
        )
    )

    steps_per_epoch = {"tfrecord": 256 // 32, "image_folder": 128 // 32}[plugin]
    assert metrics["steps"] == 3 * steps_per_epoch
    logged = read_scalars(tmp_path / "run")
    ratios = [tag for tag in logged if tag.startswith("diagnostics/update_ratio/")]  # a kernel's, a bias'
    for tag in ("diagnostics/sharpness", "diagnostics/gradient_noise_scale", *ratios):  # the stream's first batch
        assert [step for step, _ in logged[tag]] == list(range(4, 3 * steps_per_epoch + 1, 4))
    assert len(ratios) == 4
    assert metrics["test_accuracy"] > 0.5  # ten classes: chance is 0.1
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test_loss"] == metrics["test_loss"]


@pytest.mark.parametrize("write, plugin", [(write_mnist_tfrecords, "tfrecord"), (write_image_folders, "image_folder")])
def test_resumed_mid_epoch_the_stream_continues_where_it_stopped(make_config, tmp_path, write, plugin):
    files = write(tmp_path)
    data = [
        f"data={plugin}",
        f"data.train={files['train']}",
        f"data.test={files['test']}",
        "trainer.deterministic=true",
    ]
    whole = make_config(*STREAMED, *data, "trainer.steps=8")
    whole.output_dir = str(tmp_path / "whole")
    train(whole)

    train(make_config(*STREAMED, *data, "trainer.steps=3"))  # 3 of an epoch's 8 (TFRecord) or 4 (images) steps
    resumed = train(make_config(*STREAMED, *data, "trainer.steps=8"))

    assert resumed["steps"] == 8
    for got, want in zip(final_weights(tmp_path / "run"), final_weights(tmp_path / "whole"), strict=True):
        np.testing.assert_array_equal(got, want)


def test_streams_refuse_what_they_cannot_do(make_config, tmp_path):
    files = write_mnist_tfrecords(tmp_path)
    with pytest.raises(ConfigError, match="trainer.validation_split holds out part of in-memory examples"):
        train(make_config(*STREAMED, "data=tfrecord", f"data.train={files['train']}", "trainer.validation_split=0.1"))
    with pytest.raises(DataError, match=r"^data.train: no file matches .*missing-\*\.tfrecord; give a path or a glob"):
        load_tfrecords(str(tmp_path / "missing-*.tfrecord"))
    with pytest.raises(
        DataError, match=r"^data: no folder .*nowhere; give a folder with one subfolder of images per class"
    ):
        load_image_folder(str(tmp_path / "nowhere"))
    with tf.io.TFRecordWriter(str(tmp_path / "other.tfrecord")) as writer:
        writer.write(tf.train.Example().SerializeToString())
    with pytest.raises(
        DataError, match="other.tfrecord cannot be read as TFRecord files of tf.train.Examples with 'image'"
    ):
        load_tfrecords(str(tmp_path / "other.tfrecord"))


def test_tfds_without_its_package_says_how_to_install_it():
    try:
        import tensorflow_datasets  # noqa: F401
    except ImportError:
        with pytest.raises(DataError, match=r"^data=tfds needs tensorflow-datasets: pip install 'trainer\[tfds\]'$"):
            load_tfds("mnist")
    else:
        with pytest.raises(DataError, match="^data: tensorflow_datasets cannot give no_such_data_set"):
            load_tfds("no_such_data_set")
