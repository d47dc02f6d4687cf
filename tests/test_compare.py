"""python -m trainer.compare: bad settings refused in one line; a small comparison through the real command
line, whose report agrees with its jobs' own metrics.json, whose pictures are files and TensorBoard images,
and which, run again after one job's directory is deleted, runs that job alone (under Hydra's basic launcher,
which takes the list sweeper's jobs as any launcher does); one in two worker processes, stopped by SIGTERM and
resumed, whose report is that of one process."""

import csv
import json
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, assert_unlocked, fake_data, read_tensors, run_trainer, wait_for
from trainer.compare.plan import check_settings
from trainer.config.compose import compose_config, quoted, quoted_literal
from trainer.errors import ConfigError

NASTY = 'it\'s a "comparison", \\ $x [1]=2'  # quotes, a backslash, a dollar, a comma, brackets, an equals sign
# each trial builds its own program (its optimizer's settings are constants of it): traced alone, not XLA-compiled
SEARCHED = ["optimizers=[sgd,lookahead]", "problems=[booth]", "budget=3", "seeds=2", "steps=20", "search=quasi_random",
            "studies=3", "at_defaults=false", "overrides=['trainer.jit_compile=false']"]  # fmt: skip
SMALL = ["optimizers=[sgd,adam,rmsprop]", "problems=[booth,noisy_quadratic]", "budget=2", "seeds=2", "steps=30"]


def run_compare(directory, *settings: str) -> subprocess.CompletedProcess:
    """The comparison in this process (`processes=1`, where `settings` do not choose worker processes)."""
    where = quoted_literal(str(directory))
    result = run_trainer("processes=1", *settings, f"hydra.run.dir={where}", command="trainer.compare")
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize(
    "setting, message",
    [
        ("optimizers=[sgd,adamm]", "optimizers: no optimizer 'adamm' (did you mean adam?); choices: adabelief, "),
        ("problems=[rosenbrok]", "problems: no model 'rosenbrok' (did you mean rosenbrock?); choices: ackley, "),
        ("budget=0", "budget must be an integer >= 1; got 0"),
        ("processes=0", "processes must be an integer >= 1, or null for one per core; got 0"),
        ("learning_rates=[1,0.1]", "learning_rates must be [low, high] with 0 < low <= high; got [1, 0.1]"),
        ("learning_rates=[0.1]", "learning_rates must be [low, high] with 0 < low <= high; got [0.1]"),
        ("optimizers=sgd", "optimizers must be a list, e.g. optimizers=[adabelief,adadelta]; got 'sgd'"),
        ("target=-1", "target must be a number >= 0; got -1"),
        ("search=random", "search must be one of grid, quasi_random; got 'random'"),
        ("studies=0", "studies must be an integer >= 1; got 0"),
        ("search_spaces.sgd.momentum=[0.9,0.1,linear]", "search_spaces.sgd.momentum: a linear range needs low <= high"),
        ("search_spaces.sgd.momentum=[0,0.99,log]", "search_spaces.sgd.momentum: a log range needs 0 < low <= high"),
        (
            "search_spaces.sgd.momentum=[0,0.9]",
            "search_spaces.sgd.momentum must be [low, high, scale] with numbers",
        ),
        (
            "search_spaces.sgd.momentum=[a,0.9,log]",
            "search_spaces.sgd.momentum must be [low, high, scale] with numbers",
        ),
        ("+search_spaces.sgd.learning_rate=[0.1,1,log]", "search_spaces.sgd.learning_rate: every optimizer's learning"),
        (
            "+search_spaces.adamm.beta_1=[0.5,0.9,linear]",
            "search_spaces.adamm: no optimizer 'adamm' (did you mean adam",
        ),
        (
            "+search_spaces.yogi=[0.5,0.9,linear]",
            "search_spaces.yogi maps settings to ranges, e.g. search_spaces.yogi.beta_1=",
        ),
    ],
)
def test_bad_settings_are_refused_naming_the_key_and_what_is_valid(setting, message):
    with pytest.raises(ConfigError) as error:
        check_settings(compose_config(setting, config_name="compare"))
    assert str(error.value).startswith(message)


def test_a_searched_setting_the_optimizer_lacks_is_refused_before_any_job():
    with pytest.raises(ConfigError, match=r"^search_spaces.sgd.momentun: optimizer sgd has no setting momentun$"):
        check_settings(
            compose_config("search=quasi_random", "+search_spaces.sgd.momentun=[0,0.9,linear]", config_name="compare")
        )


def test_quasi_random_trials_fill_their_ranges_on_their_scales_and_each_study_draws_its_own():
    from trainer.compare.search import trials

    cfg = compose_config(
        "search=quasi_random", "budget=64", "+search_spaces.sgd.nesterov_steps=[1,9,linear]", config_name="compare"
    )
    drawn = trials(cfg, "sgd", 0, None)
    assert [list(trial) for trial in drawn[:1]] == [["learning_rate", "momentum", "nesterov_steps"]]
    rates, momenta, steps = (np.array([trial[key] for trial in drawn]) for key in drawn[0])
    logs = np.log10(rates)  # log-uniform over [1e-4, 1]: a quarter of the points in each quarter of -4..0
    assert np.histogram(logs, bins=4, range=(-4, 0))[0].tolist() == [16, 16, 16, 16]
    gaps = np.log10(1 - momenta)  # 1 - momentum log-uniform over [0.01, 1], as evenly as base 3 allows 64 points
    counts = np.histogram(gaps, bins=3, range=(-2, 0))[0]
    assert gaps.min() >= -2 and gaps.max() <= 0 and counts.sum() == 64 and counts.max() - counts.min() <= 1
    assert set(steps.tolist()) == set(range(1, 10)) and all(isinstance(value, int) for value in steps.tolist())
    assert trials(cfg, "sgd", 0, None) == drawn  # a resumed comparison draws the same trials
    assert trials(cfg, "sgd", 1, None) != drawn
    assert [list(trial) for trial in trials(cfg, "lbfgs", 0, None)[:1]] == [["learning_rate"]]  # no space: the rate


@pytest.mark.slow
def test_a_quasi_random_study_repeated_reruns_its_median_studys_best_settings(tmp_path):
    """AlgoPerf's external tuning: each study's own trials of the searched settings, and the seeds rerun the
    best of the study whose best is the median; the report and runs.csv show the settings."""
    from omegaconf import OmegaConf

    run_compare(tmp_path, *SEARCHED)

    def settings(job, keys):
        config = OmegaConf.load(job / ".hydra" / "config.yaml")
        return {key: config.optimizer[key] for key in keys}, config.trainer.seed

    report = report_rows((tmp_path / "report.md").read_text(), "booth")
    with open(tmp_path / "runs.csv", newline="") as file:
        runs = {row["directory"]: row for row in csv.DictReader(file)}
    for optimizer, keys in (
        ("sgd", ["learning_rate", "momentum"]),
        ("lookahead", ["learning_rate", "sync_period", "slow_step_size"]),
    ):
        bests = []
        for study, seed in ((0, 0), (1, 1001), (2, 1002)):  # a later study's seed is 1000 + its number
            jobs = [
                tmp_path / "tune" / (f"booth-{optimizer}-trial{trial}" + (f"-study{study}" if study else ""))
                for trial in range(3)
            ]
            drawn = [settings(job, keys) for job in jobs]
            assert {seed_of for _, seed_of in drawn} == {seed}
            for job, (values, _) in zip(jobs, drawn):
                row = runs[f"tune/{job.name}"]
                assert float(row["learning_rate"]) == values["learning_rate"]
                assert row["settings"] == " ".join(f"{key}={values[key]}" for key in keys[1:])
            finished = [(metric(job), values) for job, (values, _) in zip(jobs, drawn) if metric(job) is not None]
            bests.append(min(finished, key=lambda best: best[0]))  # a diverged trial has no metric
        assert len({str(values) for _, values in bests}) == 3  # each study its own points
        bests.sort(key=lambda best: best[0])
        median, chosen = bests[1]
        for seed in (1, 2):
            assert settings(tmp_path / "seeds" / f"booth-{optimizer}-seed{seed}", keys) == (chosen, seed)
        searched = ", ".join(f"{key} {chosen[key]:.6g}" for key in keys[1:])
        assert report[optimizer][1] == f"{chosen['learning_rate']:.3g} ({searched})"
        assert f" & {searched.replace('_', chr(92) + '_')} \\\\" in (tmp_path / "report.tex").read_text()
        assert report[optimizer][-2] == f"{median:.3g} [{bests[0][0]:.3g}, {bests[2][0]:.3g}]"
        assert isinstance(chosen.get("sync_period", 0), int)

    written = {path: path.stat().st_mtime_ns for path in tmp_path.glob("*/*/metrics.json")}
    changed = run_trainer(*SEARCHED, "search_spaces.sgd.momentum=[0.5,0.9,linear]",
                          f"hydra.run.dir={quoted_literal(str(tmp_path))}", command="trainer.compare")  # fmt: skip
    assert changed.returncode == 1 and changed.stderr.strip().splitlines()[-1].startswith(
        f"trainer.compare: {tmp_path / 'tune' / 'booth-sgd-trial0'} ran with optimizer.momentum="
    )  # the trials' points moved: the first job named stops it, and nothing already run is touched
    assert {path: path.stat().st_mtime_ns for path in tmp_path.glob("*/*/metrics.json")} == written


def report_rows(report: str, problem: str) -> dict[str, list[str]]:
    """The cells of each optimizer's row in the problem's table of report.md."""
    section = report.split(f"## {problem}\n")[1].split("\n## ")[0]
    rows = [
        line.strip("|").split(" | ") for line in section.splitlines() if line.startswith("| ") and "---" not in line
    ]
    return {cells[0].strip(): [cell.strip() for cell in cells] for cells in rows[1:]}


def metric(directory, name="distance_to_minimum") -> float:
    return json.loads((directory / "metrics.json").read_text()).get(name)  # None where the job failed


def check_scores_against_the_runs(directory, report: str) -> None:
    """Every score of report.md, scores.csv and runs.csv, from the jobs' own metrics.json files and logs."""
    scores = {}
    with open(directory / "scores.csv", newline="") as file:
        for row in csv.DictReader(file):
            scores.setdefault((row["problem"], row["optimizer"]), {})[row["score"]] = row["value"]
    with open(directory / "runs.csv", newline="") as file:
        runs = list(csv.DictReader(file))
    costs = {}
    for problem in ("booth", "noisy_quadratic"):
        rows, intervals = report_rows(report, problem), {}
        for optimizer in ("sgd", "adam", "rmsprop"):
            score = {
                key: float(value) if key != "winner" else value for key, value in scores[problem, optimizer].items()
            }
            tuning = {rate: metric(directory / "tune" / f"{problem}-{optimizer}-lr{rate}") for rate in ("0.0001", "1")}
            tuning = {rate: value for rate, value in tuning.items() if value is not None}
            assert rows[optimizer][1] == min(tuning, key=tuning.get) == f"{score['learning_rate']:.3g}"
            best = min(tuning.values())  # one study: the best tuning run's metric, its own range
            assert (score["study_metric"], score["study_metric_low"], score["study_metric_high"]) == (best,) * 3
            finals = [metric(directory / "seeds" / f"{problem}-{optimizer}-seed{seed}") for seed in (1, 2)]
            draws = np.random.default_rng(0).integers(0, 2, (2000, 2))  # the percentile bootstrap, by hand
            low, high = np.quantile(np.asarray(finals)[draws].mean(axis=1), [0.025, 0.975])
            assert (score["metric_mean"], score["metric_low"], score["metric_high"]) == pytest.approx(
                (np.mean(finals), low, high)
            )
            assert rows[optimizer][2] == f"{np.mean(finals):.3g} [{low:.3g}, {high:.3g}]"
            intervals[optimizer] = (np.mean(finals), low, high)
            own_rate = compose_config(f"optimizer={optimizer}").optimizer.learning_rate  # the scalar task's rate
            defaults = [directory / "defaults" / f"{problem}-{optimizer}-default-seed{seed}" for seed in (1, 2)]
            at_own = [metric(d) for d in defaults if metric(d) is not None]
            assert score["default_learning_rate"] == own_rate
            assert score["default_mean"] == (
                pytest.approx(np.mean(at_own)) if at_own else pytest.approx(np.nan, nan_ok=True)
            )
            objectives = [
                json.loads((d / "metrics.json").read_text()).get("objective")
                for d in (directory / "tune").glob(f"{problem}-{optimizer}-lr*")
            ]  # least value 0 for both
            assert score["tuneability"] == np.mean([o is not None and o <= 1e-3 for o in objectives])
            state = {"sgd": 0, "adam": 8, "rmsprop": 4}[optimizer]  # Adam's two float32 moments, RMSprop's one
            assert score["state_bytes_per_parameter"] == state and rows[optimizer][10] == str(state)
            seeds = [r for r in runs if (r["problem"], r["optimizer"], r["phase"]) == (problem, optimizer, "seeds")]
            assert [float(r["metric"]) for r in seeds] == finals
            reached = [float(r["steps_to_target"]) for r in seeds if r["steps_to_target"] != "nan"]
            assert score["seeds_at_target"] == len(reached)
            costs.setdefault(problem, {})[optimizer] = np.median(reached) if len(reached) == 2 else np.inf
            assert score["cost_vs_sgd"] == pytest.approx(
                score["seconds_per_step"] / float(scores[problem, "sgd"]["seconds_per_step"])
            )
        best = min(intervals, key=lambda name: intervals[name][0])
        overlapping = [
            n for n, (_, lo, hi) in intervals.items() if lo <= intervals[best][2] and hi >= intervals[best][1]
        ]
        marks = {name: cells[-1] for name, cells in rows.items()}
        assert marks == {
            n: ("**winner**" if len(overlapping) == 1 else "tie") if n in overlapping else "" for n in marks
        }
    for optimizer in ("sgd", "adam", "rmsprop"):  # AlgoPerf's score: the profile's integral over tau in [1, 4], / 3
        ratios = [
            costs[p][optimizer] / min(costs[p].values()) if np.isfinite(costs[p][optimizer]) else np.inf for p in costs
        ]
        expected = sum(max(0.0, 4 - r) for r in ratios) / (len(costs) * 3)
        assert float(scores["all", optimizer]["profile_score"]) == pytest.approx(expected)
    assert (directory / "report.tex").read_text().count("\\begin{tabular}") == 3


def test_profile_scores_and_winners_by_hand():
    from trainer.compare.scores import profile_scores, winners

    costs = {"p": {"a": 10.0, "b": 20.0, "c": np.inf}, "q": {"a": 30.0, "b": 15.0, "c": 15.0}}
    assert profile_scores(costs) == pytest.approx({"a": 5 / 6, "b": 5 / 6, "c": 0.5})  # (3 + 2) / (2 * 3), ...
    assert profile_scores({"p": {"a": 10.0, "b": 50.0}}) == {"a": 1.0, "b": 0.0}  # ratio 5 > 4: nothing
    intervals = {"a": (1.0, 0.9, 1.1), "b": (1.2, 1.05, 1.3), "c": (2.0, 1.9, 2.1)}
    assert winners(intervals, "minimize") == ["a", "b"]  # overlapping: a tie
    assert winners({**intervals, "b": (1.2, 1.15, 1.3)}, "minimize") == ["a"]
    assert winners(intervals, "maximize") == ["c"]


def test_the_studies_cell_is_the_median_studys_best_and_says_where_some_studies_all_failed():
    from trainer.compare.plan import Tuned
    from trainer.compare.report import study_cell
    from trainer.compare.scores import searched_scores

    score = searched_scores(Tuned(settings=(("learning_rate", 0.1), ("momentum", 0.9)), study_bests=(0.5, 0.7)))
    assert score["tuned_momentum"] == 0.9 and score["studies"] == 2
    assert study_cell(score, 2) == "0.7 [0.5, 0.7]"  # of two, the worse middle one
    assert study_cell(score, 3) == "0.7 [0.5, 0.7] (2 of 3)"  # the third study's every run failed
    assert study_cell(searched_scores(None), 3) == "—"


@pytest.mark.slow
def test_tuned_sgd_rate_on_the_ill_conditioned_quadratic_is_within_one_grid_step_of_the_best_constant_rate(tmp_path):
    """Curvatures 1 to 100: the constant rate that contracts the slowest mode fastest is 2 / (1 + 100)."""
    run_compare(
        tmp_path,
        "optimizers=[sgd]",
        "problems=[ill_conditioned_quadratic]",
        "budget=20",
        "learning_rates=[0.001,0.05]",
        "seeds=1",
        "steps=200",
    )
    with open(tmp_path / "scores.csv", newline="") as file:
        tuned = next(float(r["value"]) for r in csv.DictReader(file) if r["score"] == "learning_rate")
    grid_step = np.log(0.05 / 0.001) / 19
    assert abs(np.log(tuned / (2 / 101))) <= grid_step + 1e-9


@pytest.mark.slow
def test_small_comparison_reports_its_jobs_and_runs_again_only_a_deleted_job(tmp_path):
    directory = tmp_path / NASTY  # a name that must reach Hydra and the jobs' multirun intact
    first = run_compare(directory, *SMALL)
    assert "tune: 12 jobs to run" in first.stdout and "seeds: 12 jobs to run" in first.stdout
    assert "defaults: 12 jobs to run" in first.stdout

    report = (directory / "report.md").read_text()
    check_scores_against_the_runs(directory, report)

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
    again = run_compare(directory, *SMALL, "launcher=basic")  # Hydra's: each job composed anew

    assert "tune:" not in again.stdout and "seeds: 1 jobs to run" in again.stdout
    kept = [path for path in finished if "booth-adam-seed2" not in str(path)]
    assert {path: path.stat().st_mtime_ns for path in kept} == {path: finished[path] for path in kept}
    assert (directory / "seeds" / "booth-adam-seed2" / "metrics.json").is_file()
    rerun = (directory / "report.md").read_text()
    for problem in ("booth", "noisy_quadratic"):  # the rerun job is seeded: the same numbers, but its seconds
        assert {name: cells[:5] for name, cells in report_rows(rerun, problem).items()} == {
            name: cells[:5] for name, cells in report_rows(report, problem).items()
        }


@pytest.mark.slow
def test_a_comparison_in_two_worker_processes_stopped_by_sigterm_resumes_to_the_report_of_one_process(tmp_path):
    settings = [*SMALL, "budget=6", "steps=400"]
    directory, alone = tmp_path / "workers", tmp_path / "alone"
    command = [sys.executable, "-m", "trainer.compare", *settings, "processes=2", f"hydra.run.dir={directory}"]
    comparison = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(directory, "tune/*/metrics.json", comparison)
    comparison.send_signal(signal.SIGTERM)
    _, stderr = comparison.communicate(timeout=120)

    assert comparison.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.strip().splitlines()[-1] == (
        "trainer.compare: stopped by SIGTERM: each worker's running job stopped as a run stops, at a checkpoint "
        "where it writes them; run the same command to resume"
    )
    finished = len(list(directory.glob("*/*/metrics.json")))
    assert 0 < finished < 36
    assert_unlocked(directory)  # no worker left running in the comparison's directory

    resumed = run_compare(directory, *settings, "processes=2")
    assert f"tune: {36 - finished} jobs to run" in resumed.stdout
    run_compare(alone, *settings)
    assert (directory / "runs.csv").read_text() == (alone / "runs.csv").read_text()
    report, one_process = (directory / "report.md").read_text(), (alone / "report.md").read_text()
    for problem in ("booth", "noisy_quadratic"):  # the same numbers, but their seconds
        assert {name: cells[:5] for name, cells in report_rows(report, problem).items()} == {
            name: cells[:5] for name, cells in report_rows(one_process, problem).items()
        }


def test_a_suite_sets_its_problems_and_protocol_and_the_command_line_still_wins():
    suite = compose_config("suite=toy2d", "seeds=3", config_name="compare")
    assert list(suite.problems) == ["rosenbrock", "beale", "booth", "himmelblau", "branin"]
    assert (suite.budget, suite.seeds, suite.steps, suite.target) == (36, 3, 1000, 1e-3)
    check_settings(suite)
    with pytest.raises(ConfigError, match=r"^targets: booth is not among the problems \(rosenbrock, beale\)"):
        check_settings(compose_config("+targets.booth=0.1", config_name="compare"))


@pytest.mark.slow
def test_an_experiment_of_its_own_is_a_problem_with_its_own_overrides(tmp_path):
    """fmnist_2c2d chooses its model, data and loss; its jobs take the problem's own overrides after the rest."""
    (data,) = fake_data("fashion_mnist", tmp_path)
    run_compare(
        tmp_path / "comparison",
        "optimizers=[sgd]",
        "problems=[fmnist_2c2d]",
        "budget=2",
        "seeds=1",
        "steps=3",
        f"+problem_overrides.fmnist_2c2d=['trainer.steps=4', 'trainer.batch_size=32', {quoted(data)}]",
    )
    (job,) = (tmp_path / "comparison" / "seeds").glob("fmnist_2c2d-sgd-seed1")
    metrics = json.loads((job / "metrics.json").read_text())
    assert metrics["steps"] == 4 and "test_accuracy" in metrics
    assert not (job / "model.keras").exists()  # a comparison's jobs export no model: its report reads none
    assert "## fmnist_2c2d" in (tmp_path / "comparison" / "report.md").read_text()
