"""Checkpoints and resuming: a run stopped by SIGTERM, SIGKILL or a lost index, or after its last step, resumes
to what it would have been left alone, at its data position; an unreadable checkpoint is named and the one
before it used; Ctrl-C while starting leaves nothing; a run resumes only under its own settings, a finished
one run again changes nothing, and a run written by trainer 0.1 resumes after the reshaping."""

import json
import logging
import signal
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.data.mnist import write_synthetic_mnist

from tests.conftest import FAST, ROOT, final_weights, start_trainer, trainer_process, wait_for_checkpoint
from trainer.errors import ConfigError
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
    result = trainer_process(*args, f"hydra.run.dir={reference}")
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

    resumed = trainer_process(*args, f"hydra.run.dir={tmp_path}")
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

    resumed = trainer_process(*args, f"hydra.run.dir={tmp_path}")
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


def test_a_run_resumed_at_its_last_step_reports_what_it_reported(make_config, fake_mnist, tmp_path):
    """Its metrics.json lost, or killed after its last checkpoint during the test evaluation or the export,
    a run run again reports exactly what it reported, and exports the same model."""
    scalar = ["model=rosenbrock", "optimizer=adam", "trainer.steps=300", *FAST]
    first = train(make_config(*scalar))
    (tmp_path / "run" / "metrics.json").unlink()
    assert train(make_config(*scalar)) == first
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == first

    mnist = ["experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=1", "trainer.validation_split=0.25", *FAST]
    run_dir = tmp_path / "mnist"
    first = train(make_config(*mnist, f"output_dir={run_dir}"))
    weights = keras.models.load_model(run_dir / "model.keras").get_weights()
    (run_dir / "metrics.json").unlink()
    (run_dir / "model.keras").unlink()

    again = train(make_config(*mnist, f"output_dir={run_dir}"))

    assert again == first and first["accuracy"] > 0 and first["loss"] > 0
    for got, want in zip(keras.models.load_model(run_dir / "model.keras").get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_lost_checkpoint_index_resumes_from_the_newest_checkpoint_and_says_so(make_config, tmp_path, caplog):
    settings = ["trainer.checkpoint_every=100", "trainer.deterministic=true", *FAST]
    whole = train(make_config("trainer.steps=900", *settings, f"output_dir={tmp_path / 'whole'}"))
    train(make_config("trainer.steps=800", *settings))
    (tmp_path / "run" / "checkpoints" / "checkpoint").unlink()

    with caplog.at_level(logging.INFO):
        resumed = train(make_config("trainer.steps=900", *settings))

    lost = [r.getMessage() for r in caplog.records if "lost its index" in r.getMessage()]
    assert lost and "resuming from ckpt-800, the newest readable checkpoint" in lost[0]
    assert resumed == whole
    indexed = (tmp_path / "run" / "checkpoints" / "checkpoint").read_text()
    assert sorted(path.name for path in (tmp_path / "run" / "checkpoints").glob("*.index")) == [
        "ckpt-700.index",
        "ckpt-800.index",
        "ckpt-900.index",
    ]  # indexed anew, the manager went on keeping the newest 3
    assert 'model_checkpoint_path: "ckpt-900"' in indexed


@pytest.mark.slow
def catches_sigint(child, timeout: float = 60) -> None:
    """Wait until the process `child` has a handler of its own for SIGINT (Linux's /proc says), as Python
    installs at its start: a SIGINT before would kill it outright, which is not what the test is about."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = Path(f"/proc/{child.pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
        if caught >> (signal.SIGINT - 1) & 1:
            return
        time.sleep(0.01)
    raise AssertionError(f"the child caught no SIGINT within {timeout} s")


def test_ctrl_c_while_starting_is_one_line_and_leaves_no_results(tmp_path):
    child = start_trainer("trainer.steps=100000", f"hydra.run.dir={tmp_path}")
    catches_sigint(child)  # Python is up: a busy machine may take a second to get there
    time.sleep(1.0)  # importing TensorFlow
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)

    assert child.returncode == 130
    assert stderr == (
        "trainer: interrupted while starting (Ctrl-C): no step was taken and nothing saved; run the same command "
        "to start again\n"
    )
    assert not (tmp_path / "metrics.json").exists()


def test_resuming_under_other_settings_is_refused_naming_the_keys(make_config, tmp_path):
    first = train(make_config("trainer.steps=20"))

    with pytest.raises(
        ConfigError,
        match=r"cannot resume .*/checkpoints: it was trained with other settings: "
        r"optimizer.learning_rate \(0.1, now 0.5\); only the step budget",
    ):
        train(make_config("trainer.steps=40", "optimizer.learning_rate=0.5"))
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == first  # nothing lost

    assert train(make_config("trainer.steps=40"))["steps"] == 40  # a longer budget is a continuation


def test_a_finished_run_run_again_leaves_its_results_as_they_were(make_config, fake_mnist, tmp_path):
    overrides = ["experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=1"]
    first = train(make_config(*overrides))
    run_dir = tmp_path / "run"
    written = {
        path: (path.read_bytes(), path.stat().st_mtime_ns)
        for path in run_dir.rglob("*")
        if path.is_file() and path.name != ".lock"
    }

    again = train(make_config(*overrides))

    assert again == first and first["loss"] > 0
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in written} == written
    assert sorted(path for path in run_dir.rglob("*") if path.is_file() and path.name != ".lock") == sorted(written)
