"""The tune phase's choice: for each (problem, optimizer), the settings of its best tuning job by the
problem's own sweep ranking; with several studies, those of the median study's best job, as AlgoPerf reports
the median over its repeated studies (the best over them all would reward a budget `studies` times larger)."""

from pathlib import Path

import yaml
from omegaconf import DictConfig

from trainer.compare.plan import JobSpec, Tuned, tuning_jobs
from trainer.errors import ConfigError
from trainer.outputs.jobs import Job, best_jobs, ranking, read_job
from trainer.outputs.metrics import read_metrics


def read_spec_jobs(directory: Path, spec: JobSpec) -> list[Job]:
    """The job of `spec`, as a list: empty where it never started."""
    path = directory / spec.phase / spec.name
    return [read_job(path)] if (path / ".hydra").is_dir() else []


def check_unchanged(directory: Path, specs: list[JobSpec]) -> None:
    """A job already in `directory` whose name does not say its settings (a seed rerun, a quasi-random trial, a
    later study's) ran the optimizer settings and seed its spec gives now; else the comparison's settings changed
    since (a search space, more studies, another tuned setting), and one line names the job rather than a
    report mixing two protocols."""
    for spec in specs:
        if spec.phase == "tune" and spec.trial is None and spec.study == 0:
            continue  # named by its learning rate, at seed 0
        expected = {f"optimizer.{key}": value for key, value in spec.settings} | {"trainer.seed": spec.seed}
        for job in read_spec_jobs(directory, spec):
            ran = ran_settings(job, list(expected))
            changed = next((key for key in expected if ran and ran[key] != expected[key]), None)
            if changed:
                raise ConfigError(
                    f"{job.directory} ran with {changed}={ran[changed]!r}, but the comparison's settings now give "
                    f"{expected[changed]!r}: they changed since; run the comparison in a new directory"
                )


def ran_settings(job: Job, keys: list[str]) -> dict | None:
    """The settings `keys` the job ran with; None for a job killed as Hydra wrote its config, which runs again."""
    try:
        return {key: job.setting(key) for key in keys}
    except (OSError, KeyError, yaml.YAMLError):
        if read_metrics(job.directory) is None:
            return None
        raise ConfigError(f"{job.directory}: its .hydra/config.yaml cannot be read; move the job away") from None


def tuned_settings(directory: Path, cfg: DictConfig) -> dict[tuple[str, str], Tuned]:
    """(problem, optimizer) -> its tuned settings and each study's best metric; pairs whose every tuning job
    failed are left out, and so are the studies whose every job failed."""
    studies: dict[tuple[str, str], dict[int, list]] = {}
    searched: dict[tuple[str, str], list[str]] = {}
    for spec in tuning_jobs(cfg, directory):
        pair = (spec.problem, spec.optimizer)
        studies.setdefault(pair, {}).setdefault(spec.study, []).extend(read_spec_jobs(directory, spec))
        searched[pair] = [key for key, _ in spec.settings]
    tuned = {}
    for pair, by_study in studies.items():
        jobs = [job for study in by_study.values() for job in study]
        if not jobs:
            continue
        order = ranking(jobs[0].config.sweep)
        bests = [winners[0] for study in by_study.values() if (winners := best_jobs(study, order))]
        if bests:
            metric, direction = order[0]
            bests.sort(key=lambda job: job.metrics[metric], reverse=direction == "maximize")
            median = bests[len(bests) // 2]  # of an even number of studies, the worse middle one
            tuned[pair] = Tuned(
                tuple((key, median.setting(f"optimizer.{key}")) for key in searched[pair]),
                tuple(job.metrics[metric] for job in bests),
            )
    return tuned
