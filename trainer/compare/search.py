"""The trials of a comparison's tuning study (conf/compare.yaml's `search`): the learning-rate grid, or with
`search: quasi_random` as AlgoPerf's external tuning does, `budget` points of the optimizer's search space
(`search_spaces`: the learning rate over `learning_rates`, log-spaced, and the hyperparameters that matter
for it, each over [low, high] on a linear, log or one_minus_log scale) from a scrambled Halton sequence. Each
study of `studies` scrambles its own, seeded by its number, so that a comparison resumed draws the same trials."""

import math

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf

from trainer.errors import ConfigError

SEARCHES = ("grid", "quasi_random")
SCALES = {  # scale -> (its value from a point u in [0, 1) of [low, high], what its bounds must be)
    "linear": (lambda u, low, high: low + u * (high - low), "low <= high"),
    "log": (lambda u, low, high: low * (high / low) ** u, "0 < low <= high"),
    # 1 - value log-uniform: betas and momenta, whose effect is their distance from 1
    "one_minus_log": (lambda u, low, high: 1 - (1 - low) * ((1 - high) / (1 - low)) ** u, "low <= high < 1"),
}


def check_search(cfg: DictConfig) -> None:
    """One line naming the key and what is valid, for the first search setting that cannot work."""
    if cfg.search not in SEARCHES:
        raise ConfigError(f"search must be one of {', '.join(SEARCHES)}; got {cfg.search!r}")
    if not isinstance(cfg.studies, int) or cfg.studies < 1:
        raise ConfigError(f"studies must be an integer >= 1; got {cfg.studies!r}")
    for optimizer, space in cfg.search_spaces.items():
        for key, bounds in space.items():
            check_bounds(f"search_spaces.{optimizer}.{key}", bounds)
    if cfg.search == "quasi_random":
        for optimizer in cfg.optimizers:
            check_keys(optimizer, searched(cfg, optimizer))


def check_bounds(key: str, bounds) -> None:
    valid = f"[low, high, scale] with scale one of {', '.join(SCALES)}"
    if not (isinstance(bounds, ListConfig) and len(bounds) == 3 and bounds[2] in SCALES):
        raise ConfigError(f"{key} must be {valid}; got {bounds!r}")
    low, high, scale = bounds
    fine = (
        all(isinstance(bound, (int, float)) for bound in (low, high))
        and {
            "linear": low <= high,
            "log": 0 < low <= high,
            "one_minus_log": low <= high < 1,
        }[scale]
    )
    if not fine:
        raise ConfigError(f"{key}: a {scale} range needs {SCALES[scale][1]}; got [{low}, {high}]")


def check_keys(optimizer: str, space: dict) -> None:
    """Each searched key names a setting of the optimizer's YAML: a misspelt one would fail every trial."""
    from trainer.config.compose import compose_config

    node = compose_config(f"optimizer={optimizer}", "~experiment", "~_learning_rate@optimizer").optimizer
    for key in space:
        if OmegaConf.select(node, key, default=KeyError) is KeyError:
            raise ConfigError(f"search_spaces.{optimizer}.{key}: optimizer {optimizer} has no setting {key}")


def searched(cfg: DictConfig, optimizer: str) -> dict[str, list]:
    """The optimizer's searched hyperparameters besides the learning rate, by key under `optimizer.`."""
    return {key: list(bounds) for key, bounds in cfg.search_spaces.get(optimizer, {}).items()}


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

    space = {"learning_rate": [low, high, "log"], **searched(cfg, optimizer)}
    points = qmc.Halton(len(space), scramble=True, seed=study).random(cfg.budget)
    return [{key: drawn(u, *space[key]) for key, u in zip(space, point)} for point in points]


def drawn(u: float, low, high, scale: str) -> float | int:
    """The value at `u` of [low, high] on `scale`, to 4 significant digits; an integer where both bounds are."""
    value = SCALES[scale][0](u, low, high)
    if isinstance(low, int) and isinstance(high, int):
        return int(round(value))
    return float(f"{value:.4g}")


def search_text(cfg: DictConfig) -> str:
    """How each pair was tuned, for the report: its trials, its studies."""
    span = list(cfg.learning_rates)
    rates = f"the ratio of {span} centred on each pair's lr_find suggestion (lr_find/)" if cfg.centre else span
    if cfg.search == "grid":
        trials = f"learning rates log-spaced over {rates}"
    else:
        spaces = "; ".join(
            f"{name}: {space_text(searched(cfg, name))}" for name in cfg.optimizers if searched(cfg, name)
        )
        trials = f"points of a scrambled Halton sequence: the learning rate log-uniform over {rates}" + (
            f", and {spaces}" if spaces else ""
        )
    if cfg.studies == 1:
        return f"{cfg.budget} tuning runs ({trials}) per optimizer and problem, {cfg.seeds} seeds of the best"
    return (
        f"{cfg.budget} tuning runs ({trials}) per optimizer and problem in each of {cfg.studies} studies (their "
        f"own points and seed), {cfg.seeds} seeds of the median study's best"
    )


def space_text(space: dict[str, list]) -> str:
    return ", ".join(f"{key} in [{low:g}, {high:g}] ({scale})" for key, (low, high, scale) in space.items())
