"""What a multirun leaves in its sweep directory once its jobs are done: `summary.csv` and `summary.md`
(one row per job: its overrides, status and final metrics, the best by `sweep.metric`, then
`sweep.tiebreak`, marked; every one of jobs still tied), printed too; the HParams experiment that lists
every job; and the pictures each task draws over its jobs (for 1-D and 2-D scalar problems, one landscape
with every job's path). A Hydra callback, registered in conf/config.yaml, so it ends every launcher's and
sweeper's multirun."""

import csv
from pathlib import Path

from hydra.experimental.callback import Callback
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from trainer.files import replacing, write_atomically
from trainer.outputs.jobs import Job, best_jobs, ranking, read_jobs, shared_overrides


def summary_table(jobs: list[Job], metrics: list[str], best: list[Job]) -> tuple[list[str], list[dict]]:
    """Columns and rows of the summary: job, overrides, status, best, the metrics (the ranking's first), error."""
    names = list(dict.fromkeys([*metrics, *(name for job in jobs for name in job.metrics)]))
    names = [name for name in names if any(name in job.metrics for job in jobs)]
    rows = [
        {
            "job": job.number,
            "overrides": " ".join(job.overrides),
            "status": job.status(),
            "best": "yes" if job in best else "",
            **job.metrics,
            "error": job.error or "",
            "directory": job.directory.name,
        }
        for job in jobs
    ]
    return ["job", "overrides", "status", "best", *names, "error", "directory"], rows


def as_markdown(columns: list[str], rows: list[dict]) -> str:
    def cell(value) -> str:
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(name, "")) for name in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_summary(sweep_dir: Path, jobs: list[Job], ranking: list[tuple[str, str]]) -> str:
    """Write summary.csv and summary.md; return what to print: the table, the best jobs, the failures."""
    best = best_jobs(jobs, ranking)
    columns, rows = summary_table(jobs, [metric for metric, _ in ranking], best)
    with replacing(sweep_dir / "summary.csv") as temporary, open(temporary, "w", newline="") as file:
        writer = csv.DictWriter(file, columns)
        writer.writeheader()
        writer.writerows(rows)
    shared = shared_overrides(jobs)
    shown = [{**row, "overrides": job.label(shared)} for row, job in zip(rows, jobs)]
    table = as_markdown(columns[:-1], shown)  # the directory is the job's number and overrides again
    if shared:
        table = f"Every job: `{' '.join(sorted(shared))}`\n\n{table}"
    write_atomically(sweep_dir / "summary.md", table)
    lines = [table]
    metric = ranking[0][0]
    if best:
        order = ", then ".join(f"{direction} {name}" for name, direction in ranking)
        values = ", ".join(f"{name}={best[0].metrics[name]:.6g}" for name, _ in ranking if name in best[0].metrics)
        named = ", ".join(f"{job.number} ({job.label(shared)})" for job in best)
        lines.append(
            f"best ({order}): job{'s' if len(best) > 1 else ''} {named}{' tie' if len(best) > 1 else ''}, {values}"
        )
    else:
        known = sorted({name for job in jobs for name in job.metrics})
        named = ", ".join(known) or "none"
        lines.append(f"sweep.metric={metric}: no job has a finite value of it; the jobs' metrics are {named}")
    failed = [job for job in jobs if job.error]
    if failed:
        lines.append(f"{len(failed)} of {len(jobs)} jobs failed:")
        lines += [f"  job {job.number} ({job.label(shared)}): {job.error}" for job in failed]
    lines.append(f"summary: {sweep_dir / 'summary.md'}, {sweep_dir / 'summary.csv'}")
    return "\n".join(lines)


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = read_jobs(sweep_dir)
        if not jobs:
            return
        print(write_summary(sweep_dir, jobs, ranking(config.sweep)))
        log_dashboards(sweep_dir, jobs, config.sweep.metric)


def log_dashboards(sweep_dir: Path, jobs: list[Job], metric: str) -> None:
    """The sweep directory's own TensorBoard run: the HParams experiment, and each task's sweep pictures
    (a scalar problem's shared landscape) as images and PNG files."""
    from trainer.startup import import_tensorflow_quietly

    import_tensorflow_quietly()  # a joblib sweep's main process has not imported it yet
    import tensorflow as tf

    from trainer.outputs.hparams import log_experiment, run_hparams
    from trainer.outputs.pictures import log_png

    sessions = [run_hparams(job.config) for job in jobs]
    metrics = list(dict.fromkeys([metric, *(name for job in jobs for name in job.metrics)]))
    with tf.summary.create_file_writer(str(sweep_dir)).as_default():
        log_experiment(sessions, metrics)
        for name, data in sweep_pictures(jobs).items():
            write_atomically(sweep_dir / f"{name}.png", data)
            log_png(name, data, 0)


def sweep_pictures(jobs: list[Job]) -> dict[str, bytes]:
    """The pictures each task draws over its jobs, the jobs grouped by their task's config."""
    groups = {}
    for job in jobs:
        groups.setdefault(OmegaConf.to_yaml(job.config.task), (job.config.task, []))[1].append(job)
    return {
        name: data
        for task, members in groups.values()
        for name, data in instantiate(task).sweep_pictures(members).items()
    }
