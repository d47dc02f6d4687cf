"""A comparison's outcomes as its report reads them from its directory: per problem and optimizer, the
tuning jobs, the seed jobs and their loss curves (step, seconds spent in steps, loss less the problem's least
value), and the jobs at the optimizer's own learning rate. The loss of a scalar problem is its objective
along the logged path, less its least value (so noise in the training loss, as the noisy quadratic's, does
not count); a classifier's is its logged train/loss."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from trainer.compare.plan import Tuned, default_jobs, seed_jobs, tuning_jobs
from trainer.compare.select import read_spec_jobs
from trainer.outputs.jobs import Job


@dataclass
class Outcome:
    """One optimizer on one problem: its tuning jobs, its seed jobs and their loss curves, its default jobs."""

    optimizer: str
    tuning: list[Job]
    seeds: list[Job]
    curves: list[np.ndarray]  # per seed job: rows of (step, seconds spent in steps, loss less the least value)
    least: float  # the problem's least value: its objective at its minimum, 0 for a classifier
    defaults: list[Job]  # the seed jobs at the optimizer's own learning rate (at_defaults)
    tuned: Tuned | None  # its tuned settings and each study's best metric; None where every tuning job failed

    @property
    def learning_rate(self) -> float | None:
        return float(self.seeds[0].setting("optimizer.learning_rate")) if self.seeds else None


def scalar_problem(config: DictConfig):
    """A job's scalar problem, built from its config; None for another model, which is not built (a Keras
    model costs far more to build than to ask)."""
    from hydra.utils import get_object, instantiate

    from trainer.scalar import ScalarProblem

    target = get_object(config.model._target_)
    return instantiate(config.model) if isinstance(target, type) and issubclass(target, ScalarProblem) else None


def least_value(config: DictConfig):
    """(the problem, its objective at its stated minimum) for a scalar problem; (None, 0) for a classifier."""
    from trainer.outputs.pictures import objective_at

    problem = scalar_problem(config)
    if problem is None:
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


def read_outcomes(cfg: DictConfig, directory: Path, problem: str, tuned: dict) -> list[Outcome]:
    seeds = {optimizer: [] for optimizer in cfg.optimizers}
    for spec in seed_jobs(cfg, {pair: chosen for pair, chosen in tuned.items() if pair[0] == problem}):
        seeds[spec.optimizer] += read_spec_jobs(directory, spec)
    defaults = {optimizer: [] for optimizer in cfg.optimizers}
    for spec in default_jobs(cfg):
        if spec.problem == problem:
            defaults[spec.optimizer] += read_spec_jobs(directory, spec)
    finished = [job for jobs in seeds.values() for job in jobs if not job.error]
    problem_object, least = least_value(finished[0].config) if finished else (None, 0.0)
    tuning = [spec for spec in tuning_jobs(cfg, directory) if spec.problem == problem]
    return [
        Outcome(
            optimizer,
            [job for spec in tuning if spec.optimizer == optimizer for job in read_spec_jobs(directory, spec)],
            seeds[optimizer],
            [loss_curve(job, problem_object, least) for job in seeds[optimizer] if not job.error],
            least,
            defaults[optimizer],
            tuned.get((problem, optimizer)),
        )
        for optimizer in cfg.optimizers
    ]
