"""python -m trainer.compare: bad settings refused in one line; a small comparison through the real command
line, whose report agrees with its jobs' own metrics.json, whose pictures are files and TensorBoard images,
and which, run again after one job's directory is deleted, runs that job alone (under Hydra's basic launcher,
which takes the jobs as presets)."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from tests.conftest import read_tensors, run_trainer
from trainer.compare.plan import check_settings
from trainer.config.compose import compose_config, quoted_literal
from trainer.errors import ConfigError

NASTY = 'it\'s a "comparison", \\ $x [1]=2'  # quotes, a backslash, a dollar, a comma, brackets, an equals sign
SMALL = ["optimizers=[sgd,adam,rmsprop]", "problems=[booth,noisy_quadratic]", "budget=2", "seeds=2", "steps=30"]


def run_compare(directory, *settings: str) -> subprocess.CompletedProcess:
    result = run_trainer(*settings, f"hydra.run.dir={quoted_literal(str(directory))}", command="trainer.compare")
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize(
    "setting, message",
    [
        ("optimizers=[sgd,adamm]", "optimizers: no optimizer 'adamm' (did you mean adam?); choices: adabelief, "),
        ("problems=[rosenbrok]", "problems: no model 'rosenbrok' (did you mean rosenbrock?); choices: ackley, "),
        ("budget=0", "budget must be an integer >= 1; got 0"),
        ("learning_rates=[1,0.1]", "learning_rates must be [low, high] with 0 < low <= high; got [1, 0.1]"),
        ("learning_rates=[0.1]", "learning_rates must be [low, high] with 0 < low <= high; got [0.1]"),
        ("optimizers=sgd", "optimizers must be a list, e.g. optimizers=[adabelief,adadelta]; got 'sgd'"),
        ("target=-1", "target must be a number >= 0; got -1"),
    ],
)
def test_bad_settings_are_refused_naming_the_key_and_what_is_valid(setting, message):
    with pytest.raises(ConfigError) as error:
        check_settings(compose_config(setting, config_name="compare"))
    assert str(error.value).startswith(message)


def report_rows(report: str, problem: str) -> dict[str, list[str]]:
    """The cells of each optimizer's row in the problem's table of report.md."""
    section = report.split(f"## {problem}\n")[1].split("\n## ")[0]
    rows = [
        line.strip("|").split(" | ") for line in section.splitlines() if line.startswith("| ") and "---" not in line
    ]
    return {cells[0].strip(): [cell.strip() for cell in cells] for cells in rows[1:]}


def metric(directory, name="distance_to_minimum") -> float:
    return json.loads((directory / "metrics.json").read_text()).get(name)  # None where the job failed


@pytest.mark.slow
def test_small_comparison_reports_its_jobs_and_runs_again_only_a_deleted_job(tmp_path):
    directory = tmp_path / NASTY  # a name that must reach Hydra and the jobs' multirun intact
    first = run_compare(directory, *SMALL)
    assert "tune: 12 jobs to run" in first.stdout and "seeds: 12 jobs to run" in first.stdout

    report = (directory / "report.md").read_text()
    for problem in ("booth", "noisy_quadratic"):
        rows = report_rows(report, problem)
        means = {}
        for optimizer in ("sgd", "adam", "rmsprop"):
            tuning = {rate: metric(directory / "tune" / f"{problem}-{optimizer}-lr{rate}") for rate in ("0.0001", "1")}
            tuning = {rate: value for rate, value in tuning.items() if value is not None}
            assert rows[optimizer][1] == min(tuning, key=tuning.get)  # the best learning rate
            finals = [metric(directory / "seeds" / f"{problem}-{optimizer}-seed{seed}") for seed in (1, 2)]
            assert rows[optimizer][2] == f"{np.mean(finals):.3g} ± {np.std(finals):.2g}"
            means[optimizer] = np.mean(finals)
        assert [name for name, cells in rows.items() if cells[-1] == "**winner**"] == [min(means, key=means.get)]

    pictures = sorted(path.stem for path in directory.glob("*.png"))
    assert pictures == sorted(
        [
            "performance_profile",
            *(
                f"{kind}_{problem}"
                for kind in ("sensitivity", "curves", "paths")
                for problem in ("booth", "noisy_quadratic")
            ),
        ]
    )
    logged = read_tensors(directory)
    assert all(logged[name][0][1][2].startswith(b"\x89PNG") for name in pictures)
    assert logged["report"][0][1].item().decode() == report

    finished = {path: path.stat().st_mtime_ns for path in directory.glob("*/*/metrics.json")}
    shutil.rmtree(directory / "seeds" / "booth-adam-seed2")
    again = run_compare(directory, *SMALL, "launcher=basic")  # Hydra's: the jobs as presets, one multirun a phase

    assert "tune:" not in again.stdout and "seeds: 1 jobs to run" in again.stdout
    kept = [path for path in finished if "booth-adam-seed2" not in str(path)]
    assert {path: path.stat().st_mtime_ns for path in kept} == {path: finished[path] for path in kept}
    assert (directory / "seeds" / "booth-adam-seed2" / "metrics.json").is_file()
    rerun = (directory / "report.md").read_text()
    for problem in ("booth", "noisy_quadratic"):  # the rerun job is seeded: the same numbers, but its seconds
        assert {name: cells[:5] for name, cells in report_rows(rerun, problem).items()} == {
            name: cells[:5] for name, cells in report_rows(report, problem).items()
        }
