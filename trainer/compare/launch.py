"""The comparison's jobs run: a phase's jobs without metrics.json, as `python -m trainer -m` multiruns in this
process (trainer/compare/plan.py plans them). A finished comparison run again starts none, and a killed one
starts what was left, the killed jobs resuming their checkpoints."""

from pathlib import Path

from omegaconf import DictConfig

from trainer.compare.plan import JobSpec, pair_choices
from trainer.config.compose import quoted, quoted_literal
from trainer.errors import TrainerError
from trainer.files import write_atomically
from trainer.outputs.metrics import read_metrics

PRESETS = "compare_job"  # the config group of the jobs' presets under another launcher, in <dir>/presets


def run_missing(cfg: DictConfig, directory: Path, specs: list[JobSpec]) -> None:
    """The jobs of `specs` without metrics.json. Under the trainer launcher, in this process, one multirun per
    problem and optimizer: its jobs share one composed config and one built program (trainer/loop/reuse.py),
    across both phases. Under another (parallel processes, a cluster), one multirun per problem, each job a
    preset written into <directory>/presets, so that the launcher runs as many at once as it can."""
    missing = [spec for spec in specs if read_metrics(directory / spec.phase / spec.name) is None]
    if not missing:
        return
    print(f"trainer.compare: {missing[0].phase}: {len(missing)} jobs to run", flush=True)
    in_process = cfg.launcher == "trainer"
    groups: dict[tuple, list[JobSpec]] = {}  # by problem and optimizer in this process, else by problem
    for spec in missing:
        groups.setdefault((spec.problem, spec.optimizer) if in_process else (spec.problem,), []).append(spec)
    for (problem, *_), specs in groups.items():
        jobs = pair_overrides(cfg, specs) if in_process else preset_overrides(cfg, directory, specs)
        multirun(cfg, directory, specs[0].phase, jobs, problem)


def pair_overrides(cfg: DictConfig, specs: list[JobSpec]) -> list[str]:
    """The choices of one problem and optimizer, and their jobs' learning rates (tuning) or seeds, swept."""
    first = specs[0]
    if first.phase == "tune":
        rates = ",".join(repr(spec.learning_rate) for spec in specs)
        values, varied = (
            [f"optimizer.learning_rate={rates}", f"trainer.seed={first.seed}"],
            "lr${significant:${optimizer.learning_rate}}",
        )
    else:  # the seeds, at the tuned learning rate or the optimizer's own
        rate = [] if first.learning_rate is None else [f"optimizer.learning_rate={first.learning_rate!r}"]
        values = [f"trainer.seed={','.join(str(spec.seed) for spec in specs)}", *rate]
        varied = ("seed" if rate else "default-seed") + "${trainer.seed}"
    return [
        *searchpath([]),
        *(f"{group}={choice}" for group, choice in pair_choices(cfg, first.problem, first.optimizer).items()),
        *values,
        f"hydra.sweep.subdir={quoted(f'{first.problem}-{first.optimizer}-{varied}')}",  # JobSpec.name
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
    """The job's settings as a global preset: its experiment, problem and optimizer, learning rate and seed."""
    lines = [
        "# @package _global_",
        "defaults:",
        *(
            f"  - override /{group}: {choice}"
            for group, choice in pair_choices(cfg, spec.problem, spec.optimizer).items()
        ),
        f"trainer: {{seed: {spec.seed}}}",
        *([] if spec.learning_rate is None else [f"optimizer: {{learning_rate: {spec.learning_rate!r}}}"]),
    ]
    (presets / PRESETS).mkdir(parents=True, exist_ok=True)
    write_atomically(presets / PRESETS / f"{spec.name}.yaml", "\n".join(lines) + "\n")


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
        *cfg.overrides,
        *cfg.problem_overrides.get(problem, []),
    ]
    if run_in_process("trainer", *command) != 0:
        raise TrainerError(
            f"the {phase} multirun of {directory} stopped (its output is above); run the comparison again to resume it"
        )
