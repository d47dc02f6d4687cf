"""The plan of a comparison (trainer/compare/): its settings' checks and its jobs, each one `python -m trainer
-m` job in <dir>/<phase>/<its name> (`rosenbrock-adam-lr0.01`), which trainer/compare/launch.py runs: the
tuning studies' trials (trainer/compare/search.py), the tuned settings' seeds, the optimizers' own. With
`centre: lr_find`, each (problem, optimizer)'s learning rates are centred on its learning-rate range test's
suggestion (trainer/compare/centres.py), kept in <dir>/lr_find/centres.json."""

import json
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from trainer.compare.search import check_search, searched, trials
from trainer.config.compose import compose_config, group_choices
from trainer.config.settings import did_you_mean
from trainer.errors import ConfigError
from trainer.workers import check_processes

CENTRES = Path("lr_find", "centres.json")  # centre=lr_find: each pair's suggestion, by "<problem>-<optimizer>"
STUDY_SEEDS = 1000  # a later study's tuning runs are seeded 1000 + its number, a seed no rerun of a setting has


@dataclass(frozen=True)
class JobSpec:
    phase: str  # tune, seeds, or defaults (the optimizer's own settings)
    problem: str  # a conf/model/ name, or a conf/experiment/ name that chooses its model
    optimizer: str  # a conf/optimizer/ name
    settings: tuple[tuple[str, float | int], ...]  # its optimizer settings by key (learning_rate first); none: its own
    seed: int
    trial: int | None = None  # a quasi-random search's trial: the job is named by its number, not its rate
    study: int = 0  # the tuning study it belongs to (`studies`)

    @property
    def learning_rate(self) -> float | None:
        return dict(self.settings).get("learning_rate")

    @property
    def name(self) -> str:
        """The job's directory (and preset) name: the problem, the optimizer, then what the phase varies."""
        if self.phase == "tune":
            varied = f"lr{self.learning_rate:.3g}" if self.trial is None else f"trial{self.trial}"
            return f"{self.problem}-{self.optimizer}-{varied}" + (f"-study{self.study}" if self.study else "")
        return f"{self.problem}-{self.optimizer}-{'default-' if self.phase == 'defaults' else ''}seed{self.seed}"

    @property
    def named_by_settings(self) -> bool:
        """Whether its name says all its settings: the learning rate its only one, in the first study (whose jobs
        are named as before there were studies)."""
        return len(self.settings) <= 1 and self.trial is None and self.study == 0


@dataclass(frozen=True)
class Tuned:
    """A (problem, optimizer)'s tuned settings: its median study's best job's, and each study's best metric."""

    settings: tuple[tuple[str, float | int], ...]  # the learning rate first
    study_bests: tuple[float, ...]  # best first

    @property
    def searched(self) -> dict[str, float | int]:
        """The tuned settings besides the learning rate."""
        return dict(self.settings[1:])

    @property
    def study_metric(self) -> float:
        """The median study's best metric."""
        return median_study(self.study_bests)


def median_study(bests: list | tuple):
    """Of the studies' bests, best first, the median study's: of an even number of studies, the worse middle one."""
    return bests[len(bests) // 2]


def check_settings(cfg: DictConfig) -> None:
    """One line naming the key and what is valid, for the first setting that cannot work."""
    for key, group in (("optimizers", "optimizer"), ("problems", "model")):
        valid = group_choices(group) + (problem_experiments() if key == "problems" else [])
        if not isinstance(cfg[key], ListConfig):
            raise ConfigError(f"{key} must be a list, e.g. {key}=[{valid[0]},{valid[1]}]; got {cfg[key]!r}")
        for name in cfg[key]:
            if str(name) not in valid:
                raise ConfigError(
                    f"{key}: no {group} '{name}'{did_you_mean(str(name), valid)}; choices: {', '.join(valid)}"
                )
        if not cfg[key]:
            raise ConfigError(f"{key} is empty; choose from {', '.join(valid)}")
    if isinstance(cfg.seeds, int) and cfg.seeds >= STUDY_SEEDS:
        raise ConfigError(f"seeds must be below {STUDY_SEEDS}, the later studies' seeds; got {cfg.seeds}")
    for key in ("budget", "seeds", "studies", "steps", "log_every"):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise ConfigError(f"{key} must be an integer >= 1; got {cfg[key]!r}")
    check_processes(cfg.processes, "processes")
    rates = cfg.learning_rates
    if not (
        isinstance(rates, ListConfig)
        and len(rates) == 2
        and all(isinstance(r, (int, float)) for r in rates)
        and 0 < rates[0] <= rates[1]
    ):
        raise ConfigError(f"learning_rates must be [low, high] with 0 < low <= high; got {rates!r}")
    for key in ("targets", "problem_overrides"):
        unknown = [name for name in cfg[key] if name not in cfg.problems]
        if unknown:
            raise ConfigError(f"{key}: {unknown[0]} is not among the problems ({', '.join(cfg.problems)})")
    if cfg.centre not in (None, "lr_find"):
        raise ConfigError(f"centre must be null or lr_find; got {cfg.centre!r}")
    for key in ("target", "tau_max"):
        if not isinstance(cfg[key], (int, float)) or cfg[key] < (0 if key == "target" else 1):
            raise ConfigError(f"{key} must be a number >= {0 if key == 'target' else 1}; got {cfg[key]!r}")
    check_search(cfg)
    check_searched_keys(cfg)


def check_searched_keys(cfg: DictConfig) -> None:
    """Under search=quasi_random, each searched key names a setting of the optimizer as the pair's jobs compose
    it (a wrapper's inner optimizer chosen in `overrides` too): a misspelt key would fail every trial."""
    problem = cfg.problems[0]
    for optimizer in cfg.optimizers:
        if not searched(cfg, optimizer):
            continue
        node = compose_config(*pair_overrides(cfg, problem, optimizer)).optimizer
        for key in searched(cfg, optimizer):
            if OmegaConf.select(node, key, default=KeyError) is KeyError:
                raise ConfigError(f"search_spaces.{optimizer}.{key}: optimizer {optimizer} has no setting {key}")


def problem_experiments() -> list[str]:
    """The experiments that are problems of their own, their model chosen by them (fmnist_2c2d, ...): every
    conf/experiment/ name that is not a conf/model/ name."""
    models = set(group_choices("model"))
    return [name for name in group_choices("experiment") if name not in models]


def problem_choices(cfg: DictConfig, problem: str) -> list[str]:
    """The config group choices of every job of `problem`, as overrides: its trainer experiment among them. A
    conf/model/ name runs under the experiment data_problems names (scalar by default); an experiment of its
    own chooses its model."""
    if problem in cfg.data_problems or problem in group_choices("model"):
        return [f"experiment={cfg.data_problems.get(problem, 'scalar')}", f"model={problem}"]
    return [f"experiment={problem}"]


def pair_overrides(cfg: DictConfig, problem: str, optimizer: str) -> list[str]:
    """The trainer overrides every job of the pair takes: its group choices, the comparison's `overrides`, then
    the problem's own."""
    choices = [*problem_choices(cfg, problem), f"optimizer={optimizer}"]
    return [*choices, *cfg.overrides, *cfg.problem_overrides.get(problem, [])]


def target_of(cfg: DictConfig, problem: str) -> float:
    """The loss, less the problem's least value, that counts as solving it: its own in `targets`, else `target`."""
    return float(cfg.targets.get(problem, cfg.target))


def tuning_jobs(cfg: DictConfig, directory: Path) -> list[JobSpec]:
    """Each pair's trials in each study (trainer/compare/search.py): centred as <directory>'s centres.json says,
    where `centre` is set. The first study's jobs run with seed 0, a later one's with STUDY_SEEDS + its number."""
    centres = json.loads((directory / CENTRES).read_text()) if cfg.centre else {}
    return [
        JobSpec(
            "tune",
            p,
            o,
            tuple(settings.items()),
            STUDY_SEEDS + study if study else 0,
            None if cfg.search == "grid" else trial,
            study,
        )
        for study in range(cfg.studies)
        for p in cfg.problems
        for o in cfg.optimizers
        for trial, settings in enumerate(trials(cfg, o, study, centres.get(f"{p}-{o}")))
    ]


def seed_jobs(cfg: DictConfig, tuned: dict[tuple[str, str], Tuned]) -> list[JobSpec]:
    return [
        JobSpec("seeds", problem, optimizer, chosen.settings, seed)
        for (problem, optimizer), chosen in tuned.items()
        for seed in range(1, cfg.seeds + 1)
    ]


def default_jobs(cfg: DictConfig) -> list[JobSpec]:
    """With `at_defaults`, each pair at the optimizer's own settings, with the seeds of the tuned runs."""
    seeds = range(1, cfg.seeds + 1) if cfg.at_defaults else ()
    return [JobSpec("defaults", p, o, (), seed) for p in cfg.problems for o in cfg.optimizers for seed in seeds]
