"""Typed schemas of the fixed config sections (`trainer`, `logging`, `sweep`, `gradcheck`, `lr_find`),
registered in Hydra's ConfigStore and named first in the defaults lists of conf/config.yaml,
conf/gradcheck.yaml and conf/lr_find.yaml.

OmegaConf enforces each field's type while the config is composed, so `trainer.batch_size=abc` or an
unknown `+trainer.bathc_size=64` fails before anything runs; `check_settings` then tests each value's
range. Each field says what is valid in words, which both kinds of failure quote in their one line. The
values and their comments stay in the YAML files: the schemas hold types and rules only.
"""

from dataclasses import dataclass, field, fields
from difflib import get_close_matches
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from trainer.errors import ConfigError

PIPELINES = ("graph", "tf.data")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
DIRECTIONS = ("minimize", "maximize")
LR_FIND_RULES = {  # how trainer.lr_find reads its suggestion off the smoothed curve, in words
    "steepest": "where the smoothed loss falls fastest",
    "minimum": "a tenth of the rate at the least smoothed loss",
}


def setting(valid: str, test=lambda value: True):
    """A field whose value comes from the YAML; `valid` says in words what `test` accepts."""
    return field(default=MISSING, metadata={"valid": valid, "test": test})


def at_least(low):
    return lambda value: value >= low


def optional(test):
    return lambda value: value is None or test(value)


def one_of(names):
    return setting(f"one of {', '.join(names)}", lambda value: value in names)


@dataclass
class TrainerSettings:
    steps: int | None = setting("null or an integer >= 1", optional(at_least(1)))
    epochs: int = setting("an integer >= 1", at_least(1))
    batch_size: int = setting("an integer >= 1", at_least(1))
    eval_batch_size: int = setting("an integer >= 1", at_least(1))
    seed: int = setting("an integer")
    log_every: int = setting("an integer >= 1", at_least(1))
    steps_per_call: int = setting("an integer >= 1", at_least(1))
    jit_compile: bool | None = setting("true, false or null (XLA unless trainer.deterministic)")
    pipeline: str = one_of(PIPELINES)
    precision: str = one_of(PRECISIONS)
    checkpoint_every: int | None = setting("null or an integer >= 1", optional(at_least(1)))
    keep_checkpoints: int = setting("an integer >= 1", at_least(1))
    resume: str | None = setting(
        "null or a run directory with checkpoints", optional(lambda value: Path(value, "checkpoints").is_dir())
    )
    deterministic: bool = setting("true or false")
    compilation_cache: str | None = setting("null or a directory")
    validation_split: float | None = setting("null or a number in (0, 1)", optional(lambda value: 0 < value < 1))
    eval_every: int | None = setting("null or an integer >= 1", optional(at_least(1)))
    monitor: str = setting("loss or a name in metrics")
    monitor_mode: str = one_of(("min", "max"))
    patience: int | None = setting("null or an integer >= 1", optional(at_least(1)))
    min_delta: float = setting("a number >= 0", at_least(0))
    restore_best: bool = setting("true or false")


@dataclass
class LoggingSettings:
    progress: bool = setting("true or false")
    histogram_every: int | None = setting("null or an integer >= 1", optional(at_least(1)))
    graph: bool = setting("true or false")
    pictures: bool = setting("true or false")
    export: bool = setting("true or false")


@dataclass
class SweepSettings:
    metric: str = setting("a key of the jobs' metrics.json")
    direction: str = one_of(DIRECTIONS)
    tiebreak: str | None = setting("null or a key of the jobs' metrics.json")
    tiebreak_direction: str = one_of(DIRECTIONS)


@dataclass
class GradcheckSettings:
    batch_size: int = setting("an integer >= 1", at_least(1))
    elements: int = setting("an integer >= 1", at_least(1))
    epsilon: float = setting("a number > 0", lambda value: value > 0)
    tolerance: float = setting("a number > 0", lambda value: value > 0)


@dataclass
class LrFindSettings:
    start: float = setting("a number > 0", lambda value: value > 0)
    stop: float = setting("a number > lr_find.start", lambda value: value > 0)  # trainer.lr_find compares them
    steps: int = setting("an integer >= 2", at_least(2))
    smoothing: float = setting("a number in [0, 1)", lambda value: 0 <= value < 1)
    diverge: float = setting("a number > 1", lambda value: value > 1)
    rule: str = one_of(tuple(LR_FIND_RULES))


SCHEMAS = {
    "trainer": TrainerSettings,
    "logging": LoggingSettings,
    "sweep": SweepSettings,
    "gradcheck": GradcheckSettings,
    "lr_find": LrFindSettings,
}
for _section, _schema in SCHEMAS.items():
    ConfigStore.instance().store(name=f"{_section}_schema", node=_schema, package=_section)


def typed_keys() -> list[str]:
    """Every dotted key of the typed sections: `trainer.batch_size`, `logging.graph`, ..."""
    return [f"{section}.{spec.name}" for section, schema in SCHEMAS.items() for spec in fields(schema)]


def did_you_mean(name: str, candidates, section: str = "") -> str:
    """` (did you mean <section>.<the closest candidate>?)`, or nothing where none is close to `name`."""
    close = get_close_matches(name, [str(candidate) for candidate in candidates], n=1, cutoff=0.6)
    return f" (did you mean {section + '.' if section else ''}{close[0]}?)" if close else ""


def valid_values(key: str) -> str | None:
    """What is valid for a dotted key of a typed section (`trainer.batch_size`), in words; None elsewhere."""
    section, _, name = key.partition(".")
    schema = SCHEMAS.get(section)
    described = {f.name: f.metadata["valid"] for f in fields(schema)} if schema else {}
    return described.get(name)


def check_settings(cfg: DictConfig) -> None:
    """Each typed section's values against their rules; the first that fails, as one line."""
    for section, schema in SCHEMAS.items():
        if section not in cfg:
            continue
        names = [spec.name for spec in fields(schema)]
        unknown = sorted(set(cfg[section]) - set(names))  # added with +key=..., which the schema cannot stop
        if unknown:
            hint = did_you_mean(unknown[0], names, section) or f"; its keys: {', '.join(names)}"
            raise ConfigError(f"{section} has no key {unknown[0]}{hint}")
        for spec in fields(schema):
            value = cfg[section][spec.name]
            if not spec.metadata["test"](value):
                raise ConfigError(f"{section}.{spec.name} must be {spec.metadata['valid']}; got {value!r}")
