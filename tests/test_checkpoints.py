"""Training you can trust: checkpoints, exact resume after SIGTERM or SIGKILL, a clear stop on a non-finite
loss that keeps the last good checkpoint, and the trained model saved in the Keras format."""

import json
import logging
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.data.mnist import write_synthetic_mnist

from tests.conftest import ROOT, final_weights, start_trainer, wait_for_checkpoint
from trainer.train import train


@pytest.fixture(scope="module")
def deterministic_mnist(tmp_path_factory):
    """A deterministic MNIST command long enough to interrupt, and the final weights of it left alone."""
    folder = tmp_path_factory.mktemp("resume")
    data = write_synthetic_mnist(folder / "mnist.npz", train=4096, test=256)
    args = [
        "experiment=mnist",
        f"data.path={data}",
        "trainer.epochs=40",
        "trainer.deterministic=true",
        "trainer.checkpoint_every=32",
        "trainer.steps_per_call=4",
        "trainer.log_every=32",
        "trainer.jit_compile=false",
    ]
    reference = folder / "uninterrupted"
    result = subprocess.run(
        [sys.executable, "-m", "trainer", *args, f"hydra.run.dir={reference}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return args, final_weights(reference)


@pytest.mark.slow
def test_sigterm_then_resume_ends_bit_for_bit_as_the_uninterrupted_run(deterministic_mnist, tmp_path):
    args, expected = deterministic_mnist
    child = start_trainer(*args, f"hydra.run.dir={tmp_path}")
    wait_for_checkpoint(tmp_path, child)
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=120)

    assert child.returncode == 128 + signal.SIGTERM
    assert stderr.strip().splitlines()[-1].startswith("trainer: stopped by SIGTERM at step ")
    assert "run the same command to resume" in stderr
    assert not (tmp_path / "metrics.json").exists()

    resumed = subprocess.run(
        [sys.executable, "-m", "trainer", *args, f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout + resumed.stderr
    for got, want in zip(final_weights(tmp_path), expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.slow
def test_sigkill_resumes_from_the_last_checkpoint(deterministic_mnist, tmp_path):
    args, expected = deterministic_mnist
    child = start_trainer(*args, f"hydra.run.dir={tmp_path}")
    wait_for_checkpoint(tmp_path, child)
    time.sleep(0.5)
    child.kill()
    child.wait()
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    saved_step = int(latest.rsplit("-", 1)[1])
    assert 0 < saved_step < 1280 and saved_step % 32 == 0  # killed mid-run; at most checkpoint_every steps lost

    resumed = subprocess.run(
        [sys.executable, "-m", "trainer", *args, f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"at step {saved_step} of 1280" in resumed.stdout + resumed.stderr
    for got, want in zip(final_weights(tmp_path), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_unreadable_checkpoint_is_named_and_the_one_before_used(make_config, tmp_path, caplog):
    train(make_config("trainer.steps=30", "trainer.checkpoint_every=10"))
    newest = tmp_path / "run" / "checkpoints" / "ckpt-30.data-00000-of-00001"
    newest.write_bytes(newest.read_bytes()[:10])  # truncated

    with caplog.at_level(logging.INFO):
        metrics = train(make_config("trainer.steps=40", "trainer.checkpoint_every=10"))

    assert any(
        "ckpt-30" in record.getMessage() and "cannot be read" in record.getMessage() for record in caplog.records
    )
    assert any("resumed from" in r.getMessage() and "at step 20 of 40" in r.getMessage() for r in caplog.records)
    assert metrics["steps"] == 40


def test_a_finished_run_run_again_changes_nothing(make_config, tmp_path):
    first = train(make_config("trainer.steps=50"))
    again = train(make_config("trainer.steps=50"))

    assert again["variables"] == first["variables"]


@pytest.mark.slow
def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainer",
            "optimizer.learning_rate=1e6",
            "trainer.checkpoint_every=1",
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    x, step = np.float32(5.0), 0  # SGD at 1e6 on 2x^2 + x + 3 in float32, by hand: the first overflow
    with np.errstate(over="ignore"):
        while np.isfinite(np.float32(2) * x * x + x + np.float32(3)):
            x, step = np.float32(x - np.float32(1e6) * (4 * x + 1)), step + 1
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"trainer: the loss became inf at step {step + 1}: the learning rate (1e+06) is likely too large for "
        f"this problem, or the loss overflows; the last good checkpoint is {tmp_path}/checkpoints/ckpt-{step}"
    )
    assert json.loads((tmp_path / "metrics.json").read_text())["loss"] is None

    x_saved = tf.Variable(0.0, name="x")
    model = tf.Module()
    model.named_variables = {"x": x_saved}
    tf.train.Checkpoint(model=model).restore(f"{tmp_path}/checkpoints/ckpt-{step}").expect_partial()
    assert np.isfinite(x_saved.numpy()) and x_saved.numpy() == pytest.approx(x, rel=1e-6)


def test_trained_model_is_saved_in_keras_format_and_reloads_for_inference(make_config, fake_mnist, tmp_path):
    metrics = train(make_config("experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=2"))
    model = keras.models.load_model(tmp_path / "run" / "model.keras")

    with np.load(fake_mnist) as arrays:
        x, y = arrays["x_test"].astype(np.float32) / 255, arrays["y_test"]
    accuracy = np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y)
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)


@pytest.mark.parametrize("pipeline", ["graph", "tf.data"])
def test_resumed_run_continues_at_its_data_position(make_config, fake_mnist, tmp_path, pipeline):
    common = [
        "experiment=mnist",
        f"data.path={fake_mnist}",
        f"trainer.pipeline={pipeline}",
        "trainer.log_every=4",
        "trainer.checkpoint_every=4",
        "trainer.jit_compile=false",
    ]
    whole = train(make_config(*common, "trainer.epochs=2", f"output_dir={tmp_path / 'whole'}"))
    train(make_config(*common, "trainer.epochs=1", f"output_dir={tmp_path / 'split'}"))  # stops after epoch 1
    resumed = train(make_config(*common, "trainer.epochs=2", f"output_dir={tmp_path / 'split'}"))

    assert resumed["loss"] == whole["loss"] and resumed["test_loss"] == whole["test_loss"]


FIXTURE_RUNS = {  # runs written by trainer 0.1 (tests/fixtures/runs_v0.1/), stopped at their step budget
    "rosenbrock": (["model=rosenbrock", "optimizer=adam", "trainer.log_every=5"], 10),
    "logistic_regression": (
        [
            "experiment=mnist",
            "model=logistic_regression",
            "data.path=fixture-mnist.npz",
            "trainer.batch_size=16",
            "trainer.validation_split=0.25",
            "trainer.log_every=2",
        ],
        4,
    ),
}


@pytest.mark.parametrize("name", FIXTURE_RUNS)
def test_a_run_written_by_version_0_1_resumes_as_if_never_stopped(tmp_path, monkeypatch, name):
    import shutil

    from tests.conftest import ROOT
    from trainer.config.compose import compose_config

    overrides, steps = FIXTURE_RUNS[name]
    monkeypatch.chdir(tmp_path)
    write_synthetic_mnist(tmp_path / "fixture-mnist.npz", train=64, test=16)  # what the fixture was trained on
    shutil.copytree(ROOT / "tests" / "fixtures" / "runs_v0.1" / name, tmp_path / "old")
    common = [
        *overrides,
        f"trainer.steps={2 * steps}",
        "trainer.deterministic=true",
        "logging.graph=false",
        "logging.pictures=false",
        "logging.progress=false",
    ]

    resumed = train(compose_config(f"output_dir={tmp_path / 'old'}", *common))
    fresh = train(compose_config(f"output_dir={tmp_path / 'fresh'}", *common))

    assert resumed == fresh and resumed["steps"] == 2 * steps
