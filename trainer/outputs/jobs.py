"""A sweep's jobs as their directories hold them (Hydra's .hydra record and metrics.json), and the best of
them by the sweep's ranking: what a sweep's summary (trainer/outputs/sweep.py) and a comparison's report read."""

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from trainer.files import load_yaml
from trainer.outputs.metrics import flat_metrics, read_metrics


@dataclass
class Job:
    """A sweep job from its directory: its metrics.json read at once, Hydra's .hydra record as each part is
    asked for (a comparison's report reads thousands of jobs, and the configs of few: `setting` reads one value
    without building the whole OmegaConf config, 4 ms a job)."""

    directory: Path
    metrics: dict[str, float]  # the final numbers, empty for a failed job
    error: str | None  # why it failed; None where it finished

    @functools.cached_property
    def number(self) -> int:
        return load_yaml(self.directory / ".hydra" / "hydra.yaml")["hydra"]["job"]["num"]

    @functools.cached_property
    def overrides(self) -> list[str]:
        return load_yaml(self.directory / ".hydra" / "overrides.yaml")

    @functools.cached_property
    def saved(self) -> dict:
        """The job's composed config as Hydra saved it, read as YAML: interpolations unresolved."""
        return load_yaml(self.directory / ".hydra" / "config.yaml")

    @functools.cached_property
    def config(self) -> DictConfig:
        return OmegaConf.create(self.saved)

    def setting(self, key: str):
        """One value of the config (a dotted key): as the saved YAML has it where that is a plain value, else as
        OmegaConf resolves it (an interpolation, or a node inside one)."""
        node = self.saved
        for name in key.split("."):
            if not isinstance(node, dict):
                return OmegaConf.select(self.config, key, throw_on_missing=True)
            if name not in node:
                raise KeyError(f"{key} is not in {self.directory / '.hydra' / 'config.yaml'}")
            node = node[name]
        if isinstance(node, str) and ("${" in node or node == "???"):
            return OmegaConf.select(self.config, key, throw_on_missing=True)
        return node

    def status(self) -> str:
        """ok, failed, or pruned: stopped early by an Optuna search's pruner."""
        return "failed" if self.error else "pruned" if "pruned_at" in self.metrics else "ok"

    def label(self, shared: set[str] = frozenset()) -> str:
        """Its overrides but the `shared` ones, or else its directory's name."""
        return " ".join(o for o in self.overrides if o not in shared) or self.directory.name


def shared_overrides(jobs: list[Job]) -> set[str]:
    """The overrides every job has: the sweep's fixed settings rather than what it compares."""
    return set.intersection(*(set(job.overrides) for job in jobs)) if len(jobs) > 1 else set()


def read_jobs(sweep_dir: Path) -> list[Job]:
    """Every job directory of a sweep (those with Hydra's .hydra record), in job order."""
    return sorted((read_job(record.parent) for record in Path(sweep_dir).glob("*/.hydra")), key=lambda job: job.number)


def read_job(job_dir: Path) -> Job:
    """One sweep job from its directory, which has Hydra's .hydra record."""
    metrics = read_metrics(job_dir)
    error = "it wrote no metrics.json: it stopped before its end" if metrics is None else metrics.get("error")
    return Job(job_dir, flat_metrics(metrics) if metrics and error is None else {}, error)


def best_jobs(jobs: list[Job], ranking: list[tuple[str, str]]) -> list[Job]:
    """The finished jobs (not pruned) best by each (metric, direction) of `ranking` in turn, the later ones
    breaking the earlier's ties: all those still equal. None where no job has a finite first metric."""
    best = [job for job in jobs if job.status() == "ok" and math.isfinite(job.metrics.get(ranking[0][0], math.nan))]
    for metric, direction in ranking:
        values = [job.metrics.get(metric, math.nan) for job in best]
        finite = [value for value in values if math.isfinite(value)]
        if finite:
            target = min(finite) if direction == "minimize" else max(finite)
            best = [job for job, value in zip(best, values) if value == target]
    return best


def ranking(sweep: DictConfig) -> list[tuple[str, str]]:
    """[(metric, direction)] from the `sweep` settings: the metric, then its tiebreak if one is set."""
    order = [(sweep.metric, sweep.direction)]
    if sweep.tiebreak:
        order.append((sweep.tiebreak, sweep.tiebreak_direction))
    return order
