"""The plan of a comparison (trainer/compare/): its settings' checks, its learning-rate grids and its jobs,
each one `python -m trainer -m` job in <dir>/<phase>/<its name> (`rosenbrock-adam-lr0.01`), which
trainer/compare/launch.py runs. With `centre: lr_find`, each (problem, optimizer)'s grid is centred on its
learning-rate range test's suggestion (trainer/compare/centres.py), kept in <dir>/lr_find/centres.json."""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, ListConfig

from trainer.config.compose import group_choices
from trainer.config.settings import did_you_mean
from trainer.errors import ConfigError

CENTRES = Path("lr_find", "centres.json")  # centre=lr_find: each pair's suggestion, by "<problem>-<optimizer>"


@dataclass(frozen=True)
class JobSpec:
    phase: str  # tune, seeds, or defaults (the optimizer's own learning rate)
    problem: str  # a conf/model/ name, or a conf/experiment/ name that chooses its model
    optimizer: str  # a conf/optimizer/ name
    learning_rate: float | None  # None: the optimizer's own, as its config gives it for the problem
    seed: int

    @property
    def name(self) -> str:
        """The job's directory (and preset) name: the problem, the optimizer, then what the phase varies."""
        if self.phase == "tune":
            return f"{self.problem}-{self.optimizer}-lr{self.learning_rate:.3g}"
        return f"{self.problem}-{self.optimizer}-{'default-' if self.phase == 'defaults' else ''}seed{self.seed}"


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
    for key in ("budget", "seeds", "steps", "log_every"):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise ConfigError(f"{key} must be an integer >= 1; got {cfg[key]!r}")
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


def learning_rate_grid(cfg: DictConfig, centre: float | None = None) -> list[float]:
    """`budget` learning rates log-spaced from the low to the high end, to 3 significant digits; about a
    `centre`, rates of the same ratio whose geometric mean it is, unrounded (rounding would move the centre)."""
    low, high = cfg.learning_rates
    if centre is None:
        return [float(f"{rate:.3g}") for rate in np.geomspace(low, high, cfg.budget)]
    half = math.sqrt(high / low)
    return np.geomspace(centre / half, centre * half, cfg.budget).tolist() if cfg.budget > 1 else [centre]


def problem_experiments() -> list[str]:
    """The experiments that are problems of their own, their model chosen by them (fmnist_2c2d, ...): every
    conf/experiment/ name that is not a conf/model/ name."""
    models = set(group_choices("model"))
    return [name for name in group_choices("experiment") if name not in models]


def pair_choices(cfg: DictConfig, problem: str, optimizer: str) -> dict[str, str]:
    """The config group choices of a (problem, optimizer)'s jobs: its trainer experiment among them. A
    conf/model/ name runs under the experiment data_problems names (scalar by default); an experiment of its
    own chooses its model. `optimizer` may be a sweep of several ("sgd,adam"): the problem's are the same."""
    if problem in cfg.data_problems or problem in group_choices("model"):
        return {"experiment": cfg.data_problems.get(problem, "scalar"), "model": problem, "optimizer": optimizer}
    return {"experiment": problem, "optimizer": optimizer}


def target_of(cfg: DictConfig, problem: str) -> float:
    """The loss, less the problem's least value, that counts as solving it: its own in `targets`, else `target`."""
    return float(cfg.targets.get(problem, cfg.target))


def tuning_jobs(cfg: DictConfig, directory: Path) -> list[JobSpec]:
    """Each pair's jobs at the rates of its grid: centred as <directory>'s centres.json says, where `centre` is set."""
    centres = json.loads((directory / CENTRES).read_text()) if cfg.centre else {}
    return [
        JobSpec("tune", p, o, rate, 0)
        for p in cfg.problems
        for o in cfg.optimizers
        for rate in learning_rate_grid(cfg, centres.get(f"{p}-{o}"))
    ]


def seed_jobs(cfg: DictConfig, tuned: dict[tuple[str, str], float]) -> list[JobSpec]:
    return [
        JobSpec("seeds", problem, optimizer, rate, seed)
        for (problem, optimizer), rate in tuned.items()
        for seed in range(1, cfg.seeds + 1)
    ]


def default_jobs(cfg: DictConfig) -> list[JobSpec]:
    """With `at_defaults`, each pair at the optimizer's own learning rate, with the seeds of the tuned runs."""
    seeds = range(1, cfg.seeds + 1) if cfg.at_defaults else ()
    return [JobSpec("defaults", p, o, None, seed) for p in cfg.problems for o in cfg.optimizers for seed in seeds]
