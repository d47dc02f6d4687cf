"""A comparison's report (trainer/compare/), written into its directory as report.md and PNGs and logged
there as TensorBoard text and images. Per problem: what its seeds vary, a table of each optimizer's scores
(trainer/compare/scores.py: its tuned settings, the final `sweep.metric` over the seeds with its
confidence interval, steps and seconds to the target, tuneability, a step's cost, its state's bytes, the
winner or the tie), the learning-rate sensitivity, the loss curves with their seed bands, and for problems
of one or two variables each optimizer's tuned path on the landscape; over all problems, AlgoPerf's
performance-profile scores and the profile. scores.csv, runs.csv and report.tex (trainer/compare/exports.py)
hold the same numbers.

The outcomes it reads are trainer/compare/outcomes.py's.
"""

import math
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from trainer.compare.exports import run_rows, searched_text, write_exports
from trainer.compare.outcomes import read_outcomes
from trainer.compare.plan import target_of
from trainer.compare.scores import TAU_MAX, problem_scores, profile_cost, profile_scores
from trainer.compare.search import search_text, searched
from trainer.files import write_atomically
from trainer.outputs.sweep import as_markdown


def interval(score: dict, prefix: str = "metric") -> str:
    mean, low, high = (score[f"{prefix}_{part}"] for part in ("mean", "low", "high"))
    return f"{mean:.3g} [{low:.3g}, {high:.3g}]" if math.isfinite(mean) else "—"


def own_targets(cfg: DictConfig) -> str:
    return "".join(f"; for {problem}, {value:g}" for problem, value in cfg.targets.items())


def default_cell(score: dict) -> str:
    """The metric at the optimizer's own learning rate, and that rate."""
    rate = score["default_learning_rate"]
    if not math.isfinite(rate):
        return "—"
    return (
        f"{interval(score, 'default')} at {rate:.3g}"
        if math.isfinite(score["default_mean"])
        else f"failed at {rate:.3g}"
    )


def cell(value: float, spec: str = ".3g") -> str:
    return "—" if not math.isfinite(value) else format(value, spec)


def study_cell(score: dict, studies: int) -> str:
    """The median study's best tuning metric, and the least and greatest of the studies'; of fewer than
    `studies` where some had no run that did not fail."""
    values = [cell(score[key]) for key in ("study_metric", "study_metric_low", "study_metric_high")]
    fewer = f" ({score['studies']} of {studies})" if score["studies"] < studies else ""
    return "—" if values[0] == "—" else f"{values[0]} [{values[1]}, {values[2]}]{fewer}"


def tuned_cell(score: dict) -> str:
    """The tuned learning rate, and after it the other tuned settings a search drew."""
    if not math.isfinite(score["learning_rate"]):
        return "every one failed"
    searched = searched_text(score)
    return cell(score["learning_rate"]) + (f" ({searched})" if searched else "")


def problem_table(scores: dict[str, dict], metric: str, seeds: int, studies: int) -> str:
    """The problem's markdown table: a row of scores per optimizer; with several studies, the median study's
    best tuning metric and the studies' range."""
    rows = [
        {
            "optimizer": name,
            "learning rate": tuned_cell(score),
            f"{metric} (mean [95% CI])": interval(score),
            "at its own learning rate": default_cell(score),
            "seeds at target": f"{score['seeds_at_target']}/{seeds}",
            "steps to target (median)": cell(score["steps_to_target"], ".0f"),
            "seconds to target (median)": cell(score["seconds_to_target"]),
            "tuneability": cell(score["tuneability"], ".0%"),
            "ms per step": cell(1e3 * score["seconds_per_step"]),
            "× SGD": cell(score["cost_vs_sgd"], ".2f"),
            "state bytes / parameter": cell(score["state_bytes_per_parameter"], ".3g"),
            **({f"median of {studies} studies [range]": study_cell(score, studies)} if studies > 1 else {}),
            "winner": {"winner": "**winner**", "tie": "tie"}.get(score["winner"], ""),
        }
        for name, score in scores.items()
    ]
    return as_markdown(list(rows[0]), rows)


def suite_table(scores: dict[str, dict[str, dict]], profile: dict[str, float], seeds: int) -> str:
    """The scores over the problems: AlgoPerf's profile score, problems solved, DeepOBS' mean tuneability."""
    rows = [
        {
            "optimizer": name,
            "performance-profile score": f"{value:.3f}",
            "problems at target (every seed)": sum(
                by_problem[name]["seeds_at_target"] == seeds for by_problem in scores.values()
            ),
            "mean tuneability": cell(
                float(np.nanmean([by_problem[name]["tuneability"] for by_problem in scores.values()])), ".0%"
            ),
        }
        for name, value in profile.items()
    ]
    return as_markdown(list(rows[0]), rows)


def seed_randomness(model: DictConfig) -> str:
    """What a seed changes on the problem, as its YAML states it."""
    if model.get("start_spread"):
        return f"each seed but 0 starts at a point drawn N(initial, {model.start_spread:g}²) per variable"
    if model.get("noise_scale"):
        return f"each seed draws its own gradient noise (scale {model.noise_scale:g})"
    if model.get("batch_size"):  # a stochastic scalar problem of its own data set: quadratic_deep
        return f"each seed draws its own batches of {model.batch_size} of the problem's samples"
    if "initial" in model:
        return "seeds change nothing: the problem is deterministic from one start"
    return "each seed draws its own initial weights and order of the examples"


def introduction(cfg: DictConfig) -> str:
    """The report's first paragraph: the protocol, and how to read the tables."""
    defaults = (
        ""
        if not cfg.at_defaults
        else (
            " Each optimizer also ran at its own learning rate with the same seeds (Crowded Valley's question: is "
            "tuning worth it?)."
        )
    )
    return (
        f"# Optimizer comparison\n\n{search_text(cfg)}, {cfg.steps} steps each; the target: a loss "
        f"within {cfg.target:g} of the problem's least value (0 for a Keras model's){own_targets(cfg)}.{defaults} "
        "Each mean has its 95% bootstrap confidence interval over the seeds; the best mean is the winner where "
        "its interval overlaps no other's, and ties with those it overlaps. Tuneability is the share of the "
        "tuning runs that reach the target (DeepOBS); × SGD is a step's cost relative to SGD's. `scores.csv`, "
        "`runs.csv` and `report.tex` hold the same numbers.\n"
    )


def write_report(directory: Path, cfg: DictConfig, tuned: dict) -> Path:
    """report.md, its PNGs and the TensorBoard events of the comparison in `directory`; return report.md."""
    from trainer.compare import pictures as draw
    from trainer.startup import import_tensorflow_quietly

    import_tensorflow_quietly()
    sections = [introduction(cfg)]
    pictures, scores, runs, keys = {}, {}, [], {name: list(searched(cfg, name)) for name in cfg.optimizers}
    for problem in cfg.problems:
        outcomes = read_outcomes(cfg, directory, problem, tuned)
        jobs = [job for outcome in outcomes for job in outcome.seeds + outcome.tuning]
        if not jobs:
            continue
        config = jobs[0].config
        sweep = config.sweep
        scores[problem] = problem_scores(outcomes, target_of(cfg, problem), sweep.metric, sweep.direction)
        runs += run_rows(problem, outcomes, sweep.metric, target_of(cfg, problem), keys)
        drawn = draw.problem_pictures(
            problem, outcomes, config, sweep.metric, cfg.search == "grid" and cfg.studies == 1
        )
        pictures.update(drawn)
        shown = "\n".join(f"![{name}]({name}.png)" for name in drawn)
        table = problem_table(scores[problem], sweep.metric, cfg.seeds, cfg.studies)
        varied = seed_randomness(config.model)
        sections.append(f"## {problem}\n\n{sweep.direction} {sweep.metric}; {varied}\n\n{table}\n{shown}\n")
    costs = {
        problem: {name: profile_cost(score, cfg.seeds) for name, score in by.items()} for problem, by in scores.items()
    }
    profile = profile_scores(costs)
    pictures["performance_profile"] = draw.profile_png(costs, cfg.tau_max)
    sections.append(
        "## Over the problems\n\nThe performance-profile score is AlgoPerf's: the share of problems an optimizer "
        "brings to the target (every seed) within tau times the fastest one's median steps, integrated over tau "
        f"from 1 to {TAU_MAX:g} and divided by {TAU_MAX - 1:g}; the profile is drawn below the table.\n\n"
        f"{suite_table(scores, profile, cfg.seeds)}\n![performance_profile](performance_profile.png)\n"
    )
    write_exports(directory, scores, profile, runs)
    report = "\n".join(sections)
    write_atomically(directory / "report.md", report)
    log_report(directory, report, pictures)
    return directory / "report.md"


def log_report(directory: Path, report: str, pictures: dict[str, bytes]) -> None:
    """The PNGs beside report.md, and one TensorBoard event file in `directory` (the earlier report's
    replaced): the report as text, each picture as an image."""
    import tensorflow as tf

    from trainer.outputs.pictures import log_png

    for old in directory.glob("events.out.tfevents.*"):
        old.unlink()
    with tf.summary.create_file_writer(str(directory)).as_default():
        tf.summary.text("report", report, step=0)
        for name, data in pictures.items():
            write_atomically(directory / f"{name}.png", data)
            log_png(name, data, 0)
