"""A comparison's report (trainer/compare/), written into its directory as report.md and PNGs and logged
there as TensorBoard text and images. Per problem: a table (each optimizer's tuned learning rate, the mean
± std of the final `sweep.metric` over the seeds, the steps and seconds to reach the target, the winner
marked), the learning-rate sensitivity, the loss curves with their seed bands, and for problems of one or
two variables each optimizer's tuned path on the landscape; over all problems, a performance profile.

The loss of a scalar problem is its objective along the logged path, less its least value (so noise in
the training loss, as the noisy quadratic's, does not count); a classifier's is its logged train/loss.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from trainer.compare.plan import seed_jobs, tuning_jobs
from trainer.compare.select import read_spec_jobs
from trainer.files import write_atomically
from trainer.outputs.sweep import Job, as_markdown


@dataclass
class Outcome:
    """One optimizer on one problem: its tuning jobs, its seed jobs, and the seed jobs' loss curves."""

    optimizer: str
    tuning: list[Job]
    seeds: list[Job]
    curves: list[np.ndarray]  # per seed job: rows of (step, seconds spent in steps, loss less the least value)

    @property
    def learning_rate(self) -> float | None:
        return float(self.seeds[0].config.optimizer.learning_rate) if self.seeds else None


def least_value(config: DictConfig):
    """(the problem, its objective at its stated minimum) for a scalar problem; (None, 0) for a classifier."""
    from hydra.utils import instantiate

    from trainer.outputs.pictures import objective_at
    from trainer.scalar import ScalarProblem

    problem = instantiate(config.model)
    if not isinstance(problem, ScalarProblem):
        return None, 0.0
    return problem, float(objective_at(problem, np.array([list(problem.minimum.values())]))[0])


def loss_curve(job: Job, problem, least: float) -> np.ndarray:
    """Rows of (step, seconds spent in steps, loss less `least`) at each logged point: the seconds the job
    logged as `time/step_seconds`, which leave its tracing and compilation out (for a job written before
    runs logged them, the seconds since its first event)."""
    from trainer.loop.run import STEP_SECONDS
    from trainer.outputs.events import aligned
    from trainer.outputs.pictures import objective_at

    tags = [f"variables/{name}" for name in problem.named_variables] if problem else ["train/loss"]
    steps, values, seconds = aligned(job.directory, [*tags, STEP_SECONDS])
    if len(steps):
        values, seconds = values[:, :-1], values[:, -1]
    else:
        steps, values, seconds = aligned(job.directory, tags)
    loss = objective_at(problem, values) if problem else values[:, 0]
    return np.column_stack([steps, seconds, loss - least]) if len(steps) else np.zeros((0, 3))


def to_target(curve: np.ndarray, target: float) -> tuple[float, float] | None:
    """(steps, seconds) at the first logged point within `target` of the least value; None if none is."""
    reached = np.flatnonzero(curve[:, 2] <= target)
    return (curve[reached[0], 0], curve[reached[0], 1]) if len(reached) else None


def mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.3g} ± {np.std(values):.2g}" if values else "—"


def problem_table(outcomes: list[Outcome], cfg: DictConfig, metric: str, direction: str) -> tuple[str, dict]:
    """The problem's markdown table, and each optimizer's cost for the performance profile: its mean
    steps to the target where every seed reached it, else infinity."""
    finals = {
        o.optimizer: [job.metrics[metric] for job in o.seeds if math.isfinite(job.metrics.get(metric, math.nan))]
        for o in outcomes
    }
    means = {name: np.mean(values) for name, values in finals.items() if values}
    best = (min if direction == "minimize" else max)(means.values()) if means else None
    rows, costs = [], {}
    for outcome in outcomes:
        reached = [hit for hit in (to_target(curve, cfg.target) for curve in outcome.curves) if hit]
        all_reached = reached and len(reached) == cfg.seeds
        costs[outcome.optimizer] = float(np.mean([steps for steps, _ in reached])) if all_reached else math.inf
        rows.append(
            {
                "optimizer": outcome.optimizer,
                "learning rate": f"{outcome.learning_rate:.3g}" if outcome.learning_rate else "every one failed",
                f"{metric} (mean ± std)": mean_std(finals[outcome.optimizer]),
                "seeds at target": f"{len(reached)}/{cfg.seeds}",
                "steps to target": mean_std([steps for steps, _ in reached]),
                "seconds to target": mean_std([seconds for _, seconds in reached]),
                "winner": "**winner**" if best is not None and means.get(outcome.optimizer) == best else "",
            }
        )
    return as_markdown(list(rows[0]), rows), costs


def write_report(directory: Path, cfg: DictConfig, tuned: dict) -> Path:
    """report.md, its PNGs and the TensorBoard events of the comparison in `directory`; return report.md."""
    from trainer.compare import pictures as draw
    from trainer.startup import import_tensorflow_quietly

    import_tensorflow_quietly()
    span = list(cfg.learning_rates)
    grid = f"the ratio of {span} centred on each pair's lr_find suggestion (lr_find/)" if cfg.centre else span
    sections = [
        f"# Optimizer comparison\n\n{cfg.budget} tuning runs (learning rates log-spaced over {grid}) per "
        "optimizer and problem, "
        f"{cfg.seeds} seeds of the best, {cfg.steps} steps each; the target: a loss within {cfg.target:g} "
        "of the problem's least value (0 for classifiers).\n"
    ]
    pictures, costs = {}, {}
    for problem in cfg.problems:
        outcomes = read_outcomes(cfg, directory, problem, tuned)
        configs = [job.config for outcome in outcomes for job in outcome.seeds + outcome.tuning]
        if not configs:
            continue
        sweep = configs[0].sweep
        table, costs[problem] = problem_table(outcomes, cfg, sweep.metric, sweep.direction)
        drawn = draw.problem_pictures(problem, outcomes, configs[0], sweep.metric)
        pictures.update(drawn)
        shown = "\n".join(f"![{name}]({name}.png)" for name in drawn)
        sections.append(f"## {problem}\n\n{sweep.direction} {sweep.metric}\n\n{table}\n{shown}\n")
    pictures["performance_profile"] = draw.profile_png(costs, cfg.tau_max)
    sections.append(
        "## Performance profile\n\nThe fraction of problems each optimizer brings to the target in "
        "at most tau times the steps of the fastest.\n\n![performance_profile](performance_profile.png)\n"
    )
    report = "\n".join(sections)
    write_atomically(directory / "report.md", report)
    log_report(directory, report, pictures)
    return directory / "report.md"


def read_outcomes(cfg: DictConfig, directory: Path, problem: str, tuned: dict) -> list[Outcome]:
    seeds = {optimizer: [] for optimizer in cfg.optimizers}
    for spec in seed_jobs(cfg, {key: rate for key, rate in tuned.items() if key[0] == problem}):
        seeds[spec.optimizer] += read_spec_jobs(directory, spec)
    finished = [job for jobs in seeds.values() for job in jobs if not job.error]
    problem_object, least = least_value(finished[0].config) if finished else (None, 0.0)
    return [
        Outcome(
            optimizer,
            [
                job
                for spec in tuning_jobs(cfg, directory)
                if (spec.problem, spec.optimizer) == (problem, optimizer)
                for job in read_spec_jobs(directory, spec)
            ],
            seeds[optimizer],
            [loss_curve(job, problem_object, least) for job in seeds[optimizer] if not job.error],
        )
        for optimizer in cfg.optimizers
    ]


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
