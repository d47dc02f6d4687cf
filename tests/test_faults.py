"""Faults that must not lose results: a full disk ends the run in one line, leaves no half-written file, and
the same command recovers; a loss that stops being finite ends the run naming its step and keeps the last good
checkpoint."""

import json
import resource
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager

import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.data.mnist import write_synthetic_mnist

from tests.conftest import FAST, ROOT, trainer_process


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

    args = ["experiment=mnist", "model=logistic_regression", f"data.path={data}", "trainer.epochs=1", *FAST]
    return trainer_process(*args, f"hydra.run.dir={run_dir}", preexec_fn=limited if limit else None)


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
