"""MNIST: the tutorial MLP trains on Keras-format files, generated here or the real data set."""

import json

import keras
import numpy as np
import pytest

from tests.conftest import REAL_MNIST, final_weights, read_scalars
from trainer.loop.batching import InMemoryBatches
from trainer.train import train


def test_mlp_learns_fake_digits_and_reports_test_metrics(make_config, fake_mnist, tmp_path):
    import keras

    metrics = train(make_config("experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=3"))

    assert metrics["steps"] == 3 * (1024 // 128)
    assert metrics["test_accuracy"] > 0.9
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == metrics
    model = keras.models.load_model(tmp_path / "run" / "model.keras")  # the test numbers, by Keras' own evaluate
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    with np.load(fake_mnist) as arrays:
        loss, accuracy = model.evaluate(arrays["x_test"] / np.float32(255), arrays["y_test"], verbose=0)
    assert metrics["test_loss"] == pytest.approx(loss, rel=1e-5)
    assert metrics["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)


def test_each_epoch_visits_every_example_once_in_a_seeded_order():
    import tensorflow as tf

    x = np.arange(10, dtype=np.float32)
    batches = InMemoryBatches((x, x.astype(np.int32)), batch_size=3, seed=7)
    assert batches.steps_per_epoch == 3  # the tenth example is dropped, a different one each epoch

    def epoch(number):
        steps = range(number * 3, number * 3 + 3)
        return np.concatenate([batches.batch(tf.constant(s, tf.int64))[0].numpy() for s in steps])

    first, second = epoch(0), epoch(1)
    assert len(set(first)) == len(first) == 9
    assert not np.array_equal(first, second)
    assert np.array_equal(epoch(0), first)  # an epoch's order depends on (seed, epoch) alone


def test_a_log_point_every_few_steps_trains_the_weights_of_one_every_step(make_config, fake_mnist, tmp_path):
    """The loop takes a run's steps in segments up to its next log point or epoch end (trainer/loop/loops.py):
    with a point every 3 steps and epochs of 8, each epoch's order is still drawn before its first step, and
    each point's gradient norm is its own step's."""
    weights, norms = [], []
    for every in (1, 3):
        run_dir = tmp_path / f"every_{every}"
        train(make_config("experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=3",
                          f"trainer.log_every={every}", f"output_dir={run_dir}"))  # fmt: skip
        weights.append(final_weights(run_dir))
        norms.append(dict(read_scalars(run_dir)["train/gradient_norm"]))

    assert all(np.array_equal(one, three) for one, three in zip(*weights))
    assert sorted(norms[1]) == list(range(3, 25, 3))
    assert {step: norms[0][step] for step in norms[1]} == norms[1]


def test_a_data_file_is_read_once_a_process_while_it_is_unchanged(tmp_path):
    from trainer.plugins.data.mnist import load_mnist, write_synthetic_mnist

    path = write_synthetic_mnist(tmp_path / "mnist.npz", train=64, test=16, seed=0)
    first, again = load_mnist(str(path)), load_mnist(str(path))
    assert again.train[0].raw is first.train[0].raw  # the same images: read once
    with pytest.raises(ValueError, match="read-only"):  # so that no run changes what another reads
        first.train[0].raw[0, 0, 0] = 1

    write_synthetic_mnist(path, train=80, test=16, seed=1)  # the file changed: read again
    changed = load_mnist(str(path))
    assert len(changed.train[0]) == 80 and not np.array_equal(changed.test[0].raw, first.test[0].raw)


@pytest.mark.skipif(not REAL_MNIST.exists(), reason=f"real MNIST not found at {REAL_MNIST}")
def test_one_epoch_on_real_mnist_reaches_95_percent(make_config):
    metrics = train(make_config("experiment=mnist", f"data.path={REAL_MNIST}", "trainer.epochs=1"))

    assert metrics["steps"] == 60000 // 128
    assert metrics["test_accuracy"] >= 0.95


def test_trained_model_is_saved_in_keras_format_and_reloads_for_inference(make_config, fake_mnist, tmp_path):
    metrics = train(make_config("experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=2"))
    model = keras.models.load_model(tmp_path / "run" / "model.keras")

    with np.load(fake_mnist) as arrays:
        x, y = arrays["x_test"].astype(np.float32) / 255, arrays["y_test"]
    accuracy = np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y)
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)
