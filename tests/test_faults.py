"""Faults that must not lose results or end in tracebacks: a run resumed at its last step, a full disk, a lost
checkpoint index, two sweeps into one directory, a run directory that cannot be made, Ctrl-C while starting."""

import json
import logging
import resource
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import keras
import numpy as np
import pytest
from trainer.plugins.data.mnist import write_synthetic_mnist

from tests.conftest import ROOT, start_trainer
from trainer.train import train

QUIET = ["logging.progress=false", "logging.graph=false", "logging.pictures=false"]


def test_a_run_resumed_at_its_last_step_reports_what_it_reported(make_config, fake_mnist, tmp_path):
    """Its metrics.json lost, or killed after its last checkpoint during the test evaluation or the export,
    a run run again reports exactly what it reported, and exports the same model."""
    scalar = ["model=rosenbrock", "optimizer=adam", "trainer.steps=300", *QUIET]
    first = train(make_config(*scalar))
    (tmp_path / "run" / "metrics.json").unlink()
    assert train(make_config(*scalar)) == first
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == first

    mnist = ["experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=1", "trainer.validation_split=0.25", *QUIET]
    run_dir = tmp_path / "mnist"
    first = train(make_config(*mnist, f"output_dir={run_dir}"))
    weights = keras.models.load_model(run_dir / "model.keras").get_weights()
    (run_dir / "metrics.json").unlink()
    (run_dir / "model.keras").unlink()

    again = train(make_config(*mnist, f"output_dir={run_dir}"))

    assert again == first and first["accuracy"] > 0 and first["loss"] > 0
    for got, want in zip(keras.models.load_model(run_dir / "model.keras").get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)


@contextmanager
def small_disk(directory):
    """`directory` on a tmpfs of 4 MB (a mount needs root); None where none can be mounted."""
    directory.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(directory)], capture_output=True)
    try:
        yield directory if mounted.returncode == 0 else None
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", str(directory)], check=True)


def command(run_dir, data, limit: int | None = None) -> subprocess.CompletedProcess:
    """`trainer` on MNIST-like data in `run_dir`; with `limit`, no file it writes may grow past `limit` bytes."""

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args = ["experiment=mnist", "model=logistic_regression", f"data.path={data}", "trainer.epochs=1", *QUIET]
    return subprocess.run(
        [sys.executable, "-m", "trainer", *args, f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limited if limit else None,
    )


@pytest.mark.slow
def test_a_full_disk_ends_the_run_in_one_line_and_the_same_command_resumes(tmp_path):
    """On a full disk (a small tmpfs, or where none can be mounted a limit on file sizes), the export of
    model.keras fails: one line names the file and the cause, no half-written file is left, and once there is
    room the same command ends with the results of the run left alone."""
    data = write_synthetic_mnist(tmp_path / "mnist.npz", train=256, test=64)
    with small_disk(tmp_path / "disk") as disk:
        run_dir = (disk or tmp_path) / "run"
        assert command(run_dir, data).returncode == 0
        finished = json.loads((run_dir / "metrics.json").read_text())
        (run_dir / "metrics.json").unlink()
        (run_dir / "model.keras").unlink()  # as if killed during the export
        if disk:
            ballast = disk / "ballast"
            ballast.write_bytes(b"\0" * (shutil.disk_usage(disk).free - 60_000))  # room for all but model.keras
            full = command(run_dir, data)
            ballast.unlink()
            cause = "No space left on device"
        else:
            full = command(run_dir, data, limit=60_000)
            cause = "File too large"

        assert full.returncode == 1
        assert full.stderr == (
            f"trainer: cannot write {run_dir}/model.keras: {cause}; what was saved before is intact: make room (or "
            "allow writing there), then run the same command again\n"
        )
        assert sorted(path.name for path in run_dir.iterdir() if path.suffix in (".keras", ".json")) == []

        again = command(run_dir, data)
        assert again.returncode == 0, again.stderr
        assert json.loads((run_dir / "metrics.json").read_text()) == finished
        assert not list(run_dir.glob(".*.tmp*"))


def test_a_lost_checkpoint_index_resumes_from_the_newest_checkpoint_and_says_so(make_config, tmp_path, caplog):
    settings = ["trainer.checkpoint_every=100", "trainer.deterministic=true", *QUIET]
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
def test_a_second_sweep_into_a_live_sweeps_directory_is_refused_and_writes_nothing(tmp_path):
    first = start_trainer(
        "-m",
        "optimizer=sgd,adam",
        "trainer.steps=20000",
        "trainer.checkpoint_every=null",
        *QUIET,
        f"hydra.sweep.dir={tmp_path}",
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "multirun.yaml").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
        time.sleep(0.05)
    before = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*"))

    second = subprocess.run(
        [sys.executable, "-m", "trainer", "-m", "optimizer=rmsprop", f"hydra.sweep.dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 1
    assert second.stderr == (
        f"trainer: sweep directory {tmp_path} is in use by a live sweep (pid {first.pid}); wait for it to end, "
        "or choose another hydra.sweep.dir\n"
    )
    assert not [path for path in tmp_path.rglob("*") if "rmsprop" in str(path)]
    assert all(path in {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} for path in before)

    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    summary = (tmp_path / "summary.csv").read_text()
    assert "rmsprop" not in summary and summary.count(",ok,") == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "command, key",
    [
        (["trainer"], "hydra.run.dir"),
        (["trainer", "-m"], "hydra.sweep.dir"),
        (["trainer.compare"], "hydra.run.dir"),
        (["trainer.gradcheck"], "hydra.run.dir"),
    ],
)
def test_a_run_directory_that_cannot_be_made_is_one_line_for_every_command(tmp_path, command, key):
    (tmp_path / "a_file").write_text("a file, not a folder\n")
    name = command[0]
    result = subprocess.run(
        [sys.executable, "-m", *command, f"{key}={tmp_path}/a_file/run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{name}: cannot write {tmp_path}/a_file/run"), result.stderr
    assert "Not a directory" in lines[0]


@pytest.mark.slow
def test_ctrl_c_while_starting_is_one_line_and_leaves_no_results(tmp_path):
    child = start_trainer("trainer.steps=100000", f"hydra.run.dir={tmp_path}")
    time.sleep(1.0)  # importing TensorFlow
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)

    assert child.returncode == 130
    assert stderr == (
        "trainer: interrupted while starting (Ctrl-C): no step was taken and nothing saved; run the same command "
        "to start again\n"
    )
    assert not (tmp_path / "metrics.json").exists()
