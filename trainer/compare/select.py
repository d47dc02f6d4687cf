"""The tune phase's choice: for each (problem, optimizer), the learning rate of its best tuning job by the
problem's own sweep ranking."""

from pathlib import Path

from omegaconf import DictConfig

from trainer.compare.plan import JobSpec, tuning_jobs
from trainer.outputs.jobs import Job, best_jobs, ranking, read_job


def read_spec_jobs(directory: Path, spec: JobSpec) -> list[Job]:
    """The job of `spec`, as a list: empty where it never started."""
    path = directory / spec.phase / spec.name
    return [read_job(path)] if (path / ".hydra").is_dir() else []


def best_learning_rates(directory: Path, cfg: DictConfig) -> dict[tuple[str, str], float]:
    """(problem, optimizer) -> the learning rate of its best tuning job by the problem's sweep ranking;
    pairs whose every tuning job failed are left out."""
    pairs = {}
    for spec in tuning_jobs(cfg, directory):
        pairs.setdefault((spec.problem, spec.optimizer), []).extend(read_spec_jobs(directory, spec))
    best = {}
    for pair, jobs in pairs.items():
        winners = best_jobs(jobs, ranking(jobs[0].config.sweep)) if jobs else []
        if winners:
            best[pair] = float(winners[0].setting("optimizer.learning_rate"))
    return best
