"""The comparison's jobs run: a phase's jobs without metrics.json, as `python -m trainer -m` multiruns, in this
process or shared among worker processes (trainer/workers.py; trainer/compare/plan.py plans them). A
finished comparison run again starts none, and a killed one starts what was left, the killed jobs resuming
their checkpoints; one whose settings changed since a job ran stops, naming it (`check_unchanged`)."""

from pathlib import Path

import yaml
from omegaconf import DictConfig

from trainer.compare.plan import JobSpec, problem_choices
from trainer.compare.select import read_spec_jobs
from trainer.config.compose import quoted, quoted_literal
from trainer.errors import ConfigError, TrainerError
from trainer.files import write_atomically, yaml_text
from trainer.outputs.jobs import Job
from trainer.outputs.metrics import read_metrics
from trainer.workers import InProcess, Workers

JOBS = ".jobs-{}.yaml"  # in the comparison directory: the jobs of a worker's latest multirun, by its number


def run_missing(cfg: DictConfig, directory: Path, specs: list[JobSpec], workers: Workers | InProcess) -> None:
    """The jobs of `specs` without metrics.json, shared among `workers`: each (problem, optimizer)'s in the same
    worker in every phase (`worker_of`), in one multirun per problem of a worker."""
    check_unchanged(directory, specs)
    missing = [spec for spec in specs if read_metrics(directory / spec.phase / spec.name) is None]
    if not missing:
        return
    print(f"trainer.compare: {missing[0].phase}: {len(missing)} jobs to run", flush=True)
    count, search = len(workers), searchpath()
    shares = [[spec for spec in missing if worker_of(cfg, spec, count) == index] for index in range(count)]
    workers.run(run_share, [(cfg, directory, share, JOBS.format(index), search) for index, share in enumerate(shares)])


def worker_of(cfg: DictConfig, spec: JobSpec, count: int) -> int:
    """The worker of a pair's jobs, among `count`: each problem's optimizers dealt out in turn, starting one
    worker further for each problem, so that an optimizer's pairs (a slow one's: L-BFGS) are spread too."""
    return (list(cfg.problems).index(spec.problem) + list(cfg.optimizers).index(spec.optimizer)) % count


def run_share(cfg: DictConfig, directory: Path, specs: list[JobSpec], jobs_name: str, search: list[str]) -> None:
    """The jobs of `specs`, one multirun per problem, each job as the list sweeper (plugins/hydra/list_sweeper.py)
    takes it from the file `jobs_name`: its optimizer, its settings and seed, its directory. Under the trainer
    launcher the jobs share one composed config per (problem, optimizer) and one built program per structure
    (trainer/loop/reuse.py), across the phases; another launcher runs as many at once as it can (parallel
    processes, a cluster)."""
    problems: dict[str, list[JobSpec]] = {}
    for spec in specs:
        problems.setdefault(spec.problem, []).append(spec)
    for problem, specs in problems.items():
        jobs = directory / jobs_name  # one path for every multirun of the process: a composition shared names it
        write_atomically(jobs, yaml_text([job_lines(spec) for spec in specs]))
        listed = ["hydra/sweeper=list", f"hydra.sweeper.jobs={quoted_literal(str(jobs.resolve()))}"]
        multirun(cfg, directory, specs[0].phase, [*search, *problem_choices(cfg, problem), *listed], problem)


def job_lines(spec: JobSpec) -> list[str]:
    """A job's own overrides: its optimizer, its settings (added where the optimizer's config lacks one) and
    seed, and its directory, `<phase>/<its name>`."""
    settings = [f"++optimizer.{key}={value!r}" for key, value in spec.settings]
    directory = f"hydra.sweep.subdir={quoted(spec.name)}"
    return [f"optimizer={spec.optimizer}", *settings, f"trainer.seed={spec.seed}", directory]


def check_unchanged(directory: Path, specs: list[JobSpec]) -> None:
    """A job already in `directory` whose name does not say its settings (a seed rerun, a quasi-random trial, a
    later study's) ran the optimizer settings and seed its spec gives now; else the comparison's settings changed
    since (a search space, more studies, another tuned setting), and one line names the job rather than a
    report mixing two protocols."""
    for spec in specs:
        if spec.phase == "tune" and spec.named_by_settings:
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


def searchpath() -> list[str]:
    """`hydra.searchpath` of the user's own config directories, for the jobs too; none where there are none."""
    from hydra.core.hydra_config import HydraConfig

    paths = HydraConfig.get().searchpath
    return [f"hydra.searchpath=[{','.join(map(quoted, paths))}]"] if paths else []


def multirun(cfg: DictConfig, directory: Path, phase: str, jobs: list[str], problem: str) -> None:
    """`python -m trainer -m` of the jobs `jobs` (overrides) describe, each in <directory>/<phase>/<its name>,
    run in this process (its launcher may run them elsewhere); the user's overrides last, the problem's own
    (problem_overrides) after those for every problem."""
    from trainer.cli import run_in_process

    command = [
        "-m",
        *jobs,
        f"hydra.sweep.dir={quoted_literal(str(directory.resolve() / phase))}",
        "~hydra.callbacks.summary",
        "~hydra.callbacks.claim",  # the comparison holds its directory (compare): its workers share a phase's
        f"hydra/launcher={cfg.launcher}",
        f"trainer.steps={cfg.steps}",
        f"trainer.log_every={cfg.log_every}",
        "logging.progress=false",
        "logging.pictures=false",
        "logging.graph=false",  # the report shows neither
        "logging.export=false",  # nor reads the models: a VAE's model.keras is 122 MB, its jobs hundreds
        *cfg.overrides,
        *cfg.problem_overrides.get(problem, []),
    ]
    if run_in_process("trainer", *command) != 0:
        raise TrainerError(
            f"the {phase} multirun of {directory} stopped (its output is above); run the comparison again to resume it"
        )
