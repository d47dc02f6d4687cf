"""The real command line: `python -m trainer` runs, sweeps, refuses bad choices, and starts fast."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, choices, read_scalars, run_trainer, trainer_process


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
        f"{number}_optimizer={name},trainer.steps=50"
        for number, name in enumerate(["sgd", "adam", "adagrad", "rmsprop"])
    ]
    for job_dir in job_dirs:
        assert json.loads((job_dir / "metrics.json").read_text())["steps"] == 50
        assert "train/loss" in read_scalars(job_dir)


@pytest.mark.slow
def test_hydra_full_error_still_shows_hydras_whole_message(tmp_path):
    import os

    result = trainer_process(
        "optimizer=adamm", f"hydra.run.dir={tmp_path}", env={**os.environ, "HYDRA_FULL_ERROR": "1"}
    )

    assert result.returncode != 0
    assert "Traceback" in result.stderr and "Could not find 'optimizer/adamm'" in result.stderr
    assert all(f"\t{name}\n" in result.stderr for name in ("adagrad", "adam", "rmsprop", "sgd"))


@pytest.mark.slow
def test_help_says_what_the_command_does_and_lists_the_groups_users_choose_from():
    result = run_trainer("--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("trainer: config-driven TensorFlow training")
    assert "Hydra" not in result.stdout.splitlines()[0] and "powered by Hydra" not in result.stdout
    groups = dict(
        line.strip().split(": ", 1)
        for line in result.stdout.split("Config groups")[1].split("\n\n")[0].splitlines()[1:]
    )
    assert sorted(groups) == [
        "callbacks",
        "data",
        "distribute",
        "experiment",
        "hparams_search",
        "loss",
        "model",
        "optimizer",
        "schedule",
        "task",
    ]
    assert "lbfgs" in groups["optimizer"].split(", ") and "_shared" not in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "command, flag, printed",
    [
        ("trainer", "--help", "trainer: config-driven TensorFlow training"),
        ("trainer", "--cfg=job", None),
        ("trainer.gradcheck", "--help", "python -m trainer.gradcheck: the configured model and loss"),
        ("trainer.lr_find", "--help", "python -m trainer.lr_find: the learning-rate range test"),
    ],
)
def test_help_and_cfg_do_not_import_tensorflow(command, flag, printed):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", command, flag], cwd=ROOT, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert "tensorflow" not in result.stderr and "keras" not in result.stderr
    if printed:  # the command's own help, with the groups to choose from
        assert result.stdout.startswith(printed) and "  optimizer: adabelief, adadelta" in result.stdout
    if flag == "--cfg=job":
        assert "_target_: keras.optimizers.SGD" in result.stdout


@pytest.mark.slow
def test_help_read_by_a_reader_that_stops_early_ends_without_a_traceback():
    """`trainer --help | head -3`: the reader has gone before the help is written (here it never reads)."""
    child = subprocess.Popen([sys.executable, "-m", "trainer", "--help"], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    child.stdout.close()
    stderr = child.stderr.read()

    assert child.wait() == 141 and stderr == ""  # a shell's status for a death by SIGPIPE, nothing else said


# Optimizers that settle farther from the default run's minimum at any learning rate, and why.
SETTLES_AWAY = {
    "lion": 2e-2,  # sign steps of exactly lr = 0.01: it hovers about lr away
    "schedule_free_adamw": 0.1,  # ends on the average of all its iterates, whose start fades only as 1/steps
    "lamb": 0.25 + 1e-3,  # steps in proportion to |x|: from x = 5 it stops at 0, 0.25 short
}


@pytest.mark.slow
def test_multirun_over_every_optimizer_ends_each_near_the_default_runs_minimum(tmp_path):
    """The README's default run with each optimizer at its own scalar rate (conf/_learning_rate/scalar/), all
    as the jobs of one multirun in one process."""
    result = run_trainer("-m", "optimizer=glob(*)", "logging.pictures=false", "logging.graph=false",
                         f"hydra.sweep.dir={tmp_path}")  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    reached = {
        next(part for part in path.parent.name.split(",") if part.startswith("optimizer=")).split("=")[1]:
        json.loads(path.read_text())
        for path in tmp_path.glob("*/metrics.json")
    }  # fmt: skip
    assert sorted(reached) == choices("optimizer")
    for name, metrics in reached.items():
        assert metrics["steps"] == 1000 and metrics["distance_to_minimum"] < SETTLES_AWAY.get(name, 1e-3), name
