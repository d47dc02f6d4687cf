"""The real command line: `python -m trainer` runs, sweeps, refuses bad choices, and starts fast."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, read_scalars


def run_trainer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trainer", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_default_run_minimizes_the_tutorial_quadratic(tmp_path):
    result = run_trainer(f"hydra.run.dir={tmp_path}")

    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("x=-0.25 loss=2.875 ")
    assert json.loads((tmp_path / "metrics.json").read_text())["variables"]["x"] == pytest.approx(-0.25, abs=1e-6)


@pytest.mark.slow
def test_multirun_over_four_optimizers_writes_one_run_per_job(tmp_path):
    result = run_trainer("-m", "optimizer=sgd,adam,adagrad,rmsprop", "trainer.steps=50", f"hydra.sweep.dir={tmp_path}")

    assert result.returncode == 0, result.stderr
    job_dirs = sorted(path for path in tmp_path.iterdir() if path.is_dir())
    assert [path.name for path in job_dirs] == [
        f"{number}_optimizer={name},trainer.steps=50" for number, name in enumerate(["sgd", "adam", "adagrad", "rmsprop"])
    ]
    for job_dir in job_dirs:
        assert json.loads((job_dir / "metrics.json").read_text())["steps"] == 50
        assert "train/loss" in read_scalars(job_dir)


def test_unknown_optimizer_fails_listing_the_valid_ones(tmp_path):
    result = run_trainer("optimizer=adamm", f"hydra.run.dir={tmp_path}")

    assert result.returncode != 0
    assert "Could not find 'optimizer/adamm'" in result.stderr
    assert all(f"\t{name}\n" in result.stderr for name in ("adagrad", "adam", "rmsprop", "sgd"))
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize("flag", ["--help", "--cfg=job"])
def test_help_and_cfg_do_not_import_tensorflow(flag):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "trainer", flag], cwd=ROOT, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert "tensorflow" not in result.stderr and "keras" not in result.stderr
    if flag == "--cfg=job":
        assert "_target_: keras.optimizers.SGD" in result.stdout


@pytest.mark.slow
def test_multirun_over_every_optimizer_on_rosenbrock(tmp_path):
    from tests.test_configs import choices

    result = run_trainer("-m", "optimizer=glob(*)", "model=rosenbrock", "trainer.steps=200", f"hydra.sweep.dir={tmp_path}")

    assert result.returncode == 0, result.stderr[-3000:]
    overrides = [path.parent.name.split("_", 1)[1].split(",") for path in tmp_path.glob("*/metrics.json")]
    written = {part for parts in overrides for part in parts if part.startswith("optimizer=")}
    assert written == {f"optimizer={name}" for name in choices("optimizer")}
