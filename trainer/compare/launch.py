"""The comparison's jobs run: a phase's jobs without metrics.json, as `python -m trainer -m` multiruns in this
process (trainer/compare/plan.py plans them). A finished comparison run again starts none, and a killed one
starts what was left, the killed jobs resuming their checkpoints; one whose settings changed since a job ran
stops, naming it (`check_unchanged`)."""

from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from trainer.compare.plan import JobSpec, pair_choices
from trainer.compare.select import read_spec_jobs
from trainer.config.compose import quoted, quoted_literal
from trainer.errors import ConfigError, TrainerError
from trainer.files import write_atomically
from trainer.outputs.jobs import Job
from trainer.outputs.metrics import read_metrics

PRESETS = "compare_job"  # the config group of the jobs' presets under another launcher, in <dir>/presets


def run_missing(cfg: DictConfig, directory: Path, specs: list[JobSpec]) -> None:
    """The jobs of `specs` without metrics.json. Under the trainer launcher, in this process, one multirun per
    problem and set of values (`sweeps`): its jobs share one composed config per optimizer and one built program
    per structure (trainer/loop/reuse.py), across the phases. Under another (parallel processes, a cluster),
    and for the jobs no sweep of learning rates or seeds can name (a quasi-random search's trials, a later
    study's), one multirun per problem, each job a preset written into <directory>/presets, so that the
    launcher runs as many at once as it can."""
    check_unchanged(directory, specs)
    missing = [spec for spec in specs if read_metrics(directory / spec.phase / spec.name) is None]
    if not missing:
        return
    print(f"trainer.compare: {missing[0].phase}: {len(missing)} jobs to run", flush=True)
    problems: dict[str, list[JobSpec]] = {}
    for spec in missing:
        problems.setdefault(spec.problem, []).append(spec)
    for problem, specs in problems.items():
        sweepable = {spec: cfg.launcher == "trainer" and spec.swept for spec in specs}
        for optimizers, values in sweeps([spec for spec in specs if sweepable[spec]]):
            multirun(cfg, directory, specs[0].phase, sweep_overrides(cfg, optimizers, values), problem)
        presets = [spec for spec in specs if not sweepable[spec]]
        if presets:
            multirun(cfg, directory, specs[0].phase, preset_overrides(cfg, directory, presets), problem)


def check_unchanged(directory: Path, specs: list[JobSpec]) -> None:
    """A job already in `directory` whose name does not say its settings (a seed rerun, a quasi-random trial, a
    later study's) ran the optimizer settings and seed its spec gives now; else the comparison's settings changed
    since (a search space, more studies, another tuned setting), and one line names the job rather than a
    report mixing two protocols."""
    for spec in specs:
        if spec.phase == "tune" and spec.swept:
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


def sweeps(specs: list[JobSpec]) -> list[tuple[list[str], list[JobSpec]]]:
    """One problem's jobs as sweeps of optimizers x values: the optimizers whose jobs have the same values
    (learning rates and seeds) together, each sweep as (its optimizers, the values of the first's jobs)."""
    by_optimizer: dict[str, list[JobSpec]] = {}
    for spec in specs:
        by_optimizer.setdefault(spec.optimizer, []).append(spec)
    alike: dict[tuple, list[str]] = {}
    for optimizer, jobs in by_optimizer.items():
        alike.setdefault(tuple((job.learning_rate, job.seed) for job in jobs), []).append(optimizer)
    return [(optimizers, by_optimizer[optimizers[0]]) for optimizers in alike.values()]


def sweep_overrides(cfg: DictConfig, optimizers: list[str], specs: list[JobSpec]) -> list[str]:
    """The choices of a problem and its optimizers `optimizers`, and their jobs' learning rates (tuning) or
    seeds: each optimizer's jobs one after another (Hydra's sweep varies its first sweep slowest)."""
    first = specs[0]
    choices = pair_choices(cfg, first.problem, ",".join(optimizers))  # the optimizers' sweep before the values'
    if first.phase == "tune":
        rates = ",".join(repr(spec.learning_rate) for spec in specs)
        values = [f"optimizer.learning_rate={rates}", f"trainer.seed={first.seed}"]
        varied = "lr${significant:${optimizer.learning_rate}}"
    else:  # the seeds, at the tuned learning rate or the optimizer's own
        rate = [] if first.learning_rate is None else [f"optimizer.learning_rate={first.learning_rate!r}"]
        values = [f"trainer.seed={','.join(str(spec.seed) for spec in specs)}", *rate]
        varied = ("seed" if rate else "default-seed") + "${trainer.seed}"
    return [
        *searchpath([]),
        *(f"{group}={choice}" for group, choice in choices.items()),
        *values,
        f"hydra.sweep.subdir={quoted(first.problem + '-${hydra:runtime.choices.optimizer}-' + varied)}",  # JobSpec.name
    ]


def preset_overrides(cfg: DictConfig, directory: Path, specs: list[JobSpec]) -> list[str]:
    """Each job's settings as a preset of its own, the presets swept."""
    for spec in specs:
        write_preset(directory / "presets", spec, cfg)
    return [
        *searchpath([f"file://{directory.resolve() / 'presets'}"]),
        f"+{PRESETS}={','.join(spec.name for spec in specs)}",
        f"hydra.sweep.subdir={quoted('${hydra:runtime.choices.' + PRESETS + '}')}",
    ]


def write_preset(presets: Path, spec: JobSpec, cfg: DictConfig) -> None:
    """The job's settings as a global preset: its experiment, problem and optimizer, its optimizer settings
    (a dotted key nested) and seed."""
    values = OmegaConf.create({"trainer": {"seed": spec.seed}})
    for key, value in spec.settings:
        OmegaConf.update(values, f"optimizer.{key}", value)
    lines = [
        "# @package _global_",
        "defaults:",
        *(
            f"  - override /{group}: {choice}"
            for group, choice in pair_choices(cfg, spec.problem, spec.optimizer).items()
        ),
        OmegaConf.to_yaml(values),
    ]
    (presets / PRESETS).mkdir(parents=True, exist_ok=True)
    write_atomically(presets / PRESETS / f"{spec.name}.yaml", "\n".join(lines))


def searchpath(ours: list[str]) -> list[str]:
    """`hydra.searchpath` of `ours` and the user's own config directories, for the jobs too; none if empty."""
    from hydra.core.hydra_config import HydraConfig

    paths = [*ours, *HydraConfig.get().searchpath]
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
