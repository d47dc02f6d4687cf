"""The trials of a comparison's tuning study (conf/compare.yaml's `search`): the learning-rate grid, or with
`search: quasi_random` as AlgoPerf's external tuning does, `budget` points of the optimizer's search space
(`search_spaces`: the learning rate over `learning_rates`, log-spaced, and the hyperparameters that matter
for it, each over [low, high] on a linear, log or one_minus_log scale) from a scrambled Halton sequence. Each
study of `studies` scrambles its own, seeded by its number, so that a comparison resumed draws the same trials."""

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from omegaconf import DictConfig, ListConfig

from trainer.config.compose import group_choices
from trainer.config.settings import did_you_mean
from trainer.errors import ConfigError

SEARCHES = ("grid", "quasi_random")


class Scale(NamedTuple):
    value: Callable  # (u, low, high) -> the value at u in [0, 1) of [low, high]
    fits: Callable  # (low, high) -> whether the bounds suit the scale
    needs: str  # what fits asks, for its message


SCALES = {
    "linear": Scale(lambda u, low, high: low + u * (high - low), lambda low, high: low <= high, "low <= high"),
    "log": Scale(lambda u, low, high: low * (high / low) ** u, lambda low, high: 0 < low <= high, "0 < low <= high"),
    # 1 - value log-uniform: betas and momenta, whose effect is their distance from 1
    "one_minus_log": Scale(
        lambda u, low, high: 1 - (1 - low) * ((1 - high) / (1 - low)) ** u,
        lambda low, high: low <= high < 1,
        "low <= high < 1",
    ),
}


def check_search(cfg: DictConfig) -> None:
    """One line naming the key and what is valid, for the first search setting that cannot work."""
    if cfg.search not in SEARCHES:
        raise ConfigError(f"search must be one of {', '.join(SEARCHES)}; got {cfg.search!r}")
    optimizers = group_choices("optimizer")
    for optimizer, space in cfg.search_spaces.items():
        key = f"search_spaces.{optimizer}"
        if optimizer not in optimizers:
            raise ConfigError(f"{key}: no optimizer '{optimizer}'{did_you_mean(optimizer, optimizers)}")
        if not isinstance(space, DictConfig):
            example = f"{key}.beta_1=[0.5,0.99,one_minus_log]"
            raise ConfigError(f"{key} maps settings to ranges, e.g. {example}; got {space!r}")
        for name, bounds in flat(space).items():
            if name == "learning_rate":
                raise ConfigError(f"{key}.learning_rate: every optimizer's learning rate ranges over learning_rates")
            check_bounds(f"{key}.{name}", bounds)


def check_bounds(key: str, bounds) -> None:
    valid = f"[low, high, scale] with numbers low and high, and scale one of {', '.join(SCALES)}"
    if not (
        isinstance(bounds, ListConfig)
        and len(bounds) == 3
        and all(isinstance(bound, (int, float)) and not isinstance(bound, bool) for bound in bounds[:2])
        and bounds[2] in SCALES
    ):
        raise ConfigError(f"{key} must be {valid}; got {bounds!r}")
    low, high, scale = bounds
    if not SCALES[scale].fits(low, high):
        raise ConfigError(f"{key}: a {scale} range needs {SCALES[scale].needs}; got [{low}, {high}]")


def flat(space: DictConfig, prefix: str = "") -> dict:
    """A space's ranges by dotted key: `+search_spaces.lookahead.optimizer.beta_1=[...]` nests on the command line."""
    ranges = {}
    for key, value in space.items():
        if isinstance(value, DictConfig):
            ranges.update(flat(value, f"{prefix}{key}."))
        else:
            ranges[f"{prefix}{key}"] = value
    return ranges


def searched(cfg: DictConfig, optimizer: str) -> dict[str, list]:
    """The optimizer's hyperparameters that its trials draw besides the learning rate, by key under `optimizer.`,
    with their ranges: none under a grid, which searches the learning rate alone."""
    space = cfg.search_spaces.get(optimizer) if cfg.search == "quasi_random" else None
    return {key: list(bounds) for key, bounds in flat(space).items()} if space else {}


def learning_rate_range(cfg: DictConfig, centre: float | None) -> tuple[float, float]:
    """`learning_rates`, or about a `centre` (centre=lr_find) the range of the same ratio centred on it."""
    low, high = cfg.learning_rates
    if centre is None:
        return low, high
    half = math.sqrt(high / low)
    return centre / half, centre * half


def trials(cfg: DictConfig, optimizer: str, study: int, centre: float | None) -> list[dict[str, float]]:
    """The study's `budget` trials of the optimizer: its settings by key (learning_rate first)."""
    low, high = learning_rate_range(cfg, centre)
    if cfg.search == "grid":
        rates = np.geomspace(low, high, cfg.budget) if centre is None or cfg.budget > 1 else [centre]
        rounded = centre is None  # to 3 significant digits, but about a centre, which rounding would move
        return [{"learning_rate": float(f"{rate:.3g}") if rounded else float(rate)} for rate in rates]
    from scipy.stats import qmc

    space = {"learning_rate": [float(low), float(high), "log"], **searched(cfg, optimizer)}  # never integers
    points = qmc.Halton(len(space), scramble=True, rng=np.random.default_rng(study)).random(cfg.budget)
    return [{key: drawn(u, *space[key]) for key, u in zip(space, point)} for point in points]


def drawn(u: float, low, high, scale: str) -> float | int:
    """The value at `u` of [low, high] on `scale`, to 4 significant digits (of 1 - value on one_minus_log: of a
    beta of 0.99986, the 1.4e-4 that matters); an integer where both bounds are."""
    value = SCALES[scale].value(u, low, high)
    if isinstance(low, int) and isinstance(high, int):
        return int(round(value))
    if scale == "one_minus_log":
        return float(f"{1 - float(f'{1 - value:.4g}'):.15g}")  # 0.7386, not 1 - 0.2614 = 0.7385999999999999
    return float(f"{value:.4g}")


def search_text(cfg: DictConfig) -> str:
    """How each pair was tuned, for the report: its trials, its studies."""
    span = list(cfg.learning_rates)
    rates = f"the ratio of {span} centred on each pair's lr_find suggestion (lr_find/)" if cfg.centre else span
    if cfg.search == "grid":
        points = f"learning rates log-spaced over {rates}"
    else:
        spaces = "; ".join(
            f"{name}: {space_text(searched(cfg, name))}" for name in cfg.optimizers if searched(cfg, name)
        )
        points = f"points of a scrambled Halton sequence: the learning rate log-uniform over {rates}" + (
            f", and {spaces}" if spaces else ""
        )
    if cfg.studies == 1:
        return f"{cfg.budget} tuning runs ({points}) per optimizer and problem, {cfg.seeds} seeds of the best"
    return (
        f"{cfg.budget} tuning runs ({points}) per optimizer and problem in each of {cfg.studies} studies (their "
        f"own seed{'' if cfg.search == 'grid' else ' and points'}), {cfg.seeds} seeds of the median study's best"
    )


def space_text(space: dict[str, list]) -> str:
    return ", ".join(f"{key} in [{low:g}, {high:g}] ({scale})" for key, (low, high, scale) in space.items())
