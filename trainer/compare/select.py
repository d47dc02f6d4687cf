"""The tune phase's choice: for each (problem, optimizer), the settings of its best tuning job by the
problem's own sweep ranking; with several studies, those of the median study's best job, as AlgoPerf reports
the median over its repeated studies (the best over them all would reward a budget `studies` times larger)."""

from pathlib import Path

from omegaconf import DictConfig

from trainer.compare.plan import JobSpec, Tuned, median_study, tuning_jobs
from trainer.outputs.jobs import Job, best_jobs, ranking, read_job


def read_spec_jobs(directory: Path, spec: JobSpec) -> list[Job]:
    """The job of `spec`, as a list: empty where it never started."""
    path = directory / spec.phase / spec.name
    return [read_job(path)] if (path / ".hydra").is_dir() else []


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
            median = median_study(bests)
            tuned[pair] = Tuned(
                tuple((key, median.setting(f"optimizer.{key}")) for key in searched[pair]),
                tuple(job.metrics[metric] for job in bests),
            )
    return tuned
