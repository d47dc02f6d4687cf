"""Checks of the composed config before anything is built: a value that cannot work fails at start with
one line naming the key and what is valid (`ConfigError`); `python -m trainer` prints that line alone."""
import inspect
import numbers
from pathlib import Path

from hydra.utils import get_class
from omegaconf import DictConfig

from trainer.errors import ConfigError

PIPELINES = ("graph", "tf.data")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(value) -> bool:
    return is_int(value) and value >= 1


# Each trainer setting: what is valid, and the test of it.
TRAINER_SETTINGS = {
    "steps": ("null or an integer >= 1", lambda v: v is None or positive_int(v)),
    "epochs": ("an integer >= 1", positive_int),
    "batch_size": ("an integer >= 1", positive_int),
    "eval_batch_size": ("an integer >= 1", positive_int),
    "seed": ("an integer", is_int),
    "log_every": ("an integer >= 1", positive_int),
    "steps_per_call": ("an integer >= 1", positive_int),
    "jit_compile": ("true or false", lambda v: isinstance(v, bool)),
    "pipeline": (f"one of {', '.join(PIPELINES)}", lambda v: v in PIPELINES),
    "precision": (f"one of {', '.join(PRECISIONS)}", lambda v: v in PRECISIONS),
    "checkpoint_every": ("null or an integer >= 1", lambda v: v is None or positive_int(v)),
    "keep_checkpoints": ("an integer >= 1", positive_int),
    "resume": ("null or a run directory with checkpoints", lambda v: v is None or Path(str(v), "checkpoints").is_dir()),
    "deterministic": ("true or false", lambda v: isinstance(v, bool)),
    "validation_split": ("null or a number in (0, 1)", lambda v: v is None or is_number(v) and 0 < v < 1),
    "eval_every": ("null or an integer >= 1", lambda v: v is None or positive_int(v)),
    "monitor": ("loss or a name in metrics", lambda v: isinstance(v, str)),
    "monitor_mode": ("min or max", lambda v: v in ("min", "max")),
    "patience": ("null or an integer >= 1", lambda v: v is None or positive_int(v)),
    "min_delta": ("a number >= 0", lambda v: is_number(v) and v >= 0),
}


def check_config(cfg: DictConfig) -> None:
    check_trainer(cfg.trainer)
    monitors = ["loss", *cfg.metrics]
    if cfg.trainer.monitor not in monitors:
        raise ConfigError(f"trainer.monitor must be one of {', '.join(monitors)}; got {cfg.trainer.monitor!r}")
    check_optimizer(cfg.optimizer, "optimizer")


def check_trainer(settings: DictConfig) -> None:
    unknown = sorted(set(settings) - set(TRAINER_SETTINGS))
    if unknown:
        raise ConfigError(f"trainer.{unknown[0]} is not a trainer setting; valid: {', '.join(TRAINER_SETTINGS)}")
    for key, (valid, test) in TRAINER_SETTINGS.items():
        if not test(settings.get(key)):
            raise ConfigError(f"trainer.{key} must be {valid}; got {settings.get(key)!r}")


def check_optimizer(node: DictConfig, key: str) -> None:
    """Every key is a constructor argument of the optimizer class; the learning rate is a number > 0."""
    cls = get_class(node._target_)
    valid = constructor_arguments(cls)
    unknown = sorted(set(node) - valid - HYDRA_KEYS)
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]} is not a hyperparameter of {node._target_}; valid: {', '.join(sorted(valid))}"
        )
    inner = node.get("optimizer")
    if isinstance(inner, DictConfig) and "_target_" in inner:  # a wrapper's inner optimizer
        check_optimizer(inner, f"{key}.optimizer")
    learning_rate = node.get("learning_rate")
    if "learning_rate" in node and not (is_number(learning_rate) and learning_rate > 0):
        raise ConfigError(f"{key}.learning_rate must be a number > 0; got {learning_rate!r}")


def constructor_arguments(cls) -> set[str]:
    """Names `cls(...)` accepts: its constructor's, and its bases' as far as `**kwargs` passes them on."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
        names |= {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return names
