"""Checks of the composed config before anything is built.

The fixed sections are typed by trainer/settings.py; each plugin section (`task`, `model`, `loss`,
`optimizer`, `data`, `schedule`, `distribute`, and each of the `metrics`, `callbacks` and `actions`) is
checked against the signature of what its `_target_` names: every key must be an argument, a value
must have the type of the argument's default (an integer where the default is a float, such as
`optimizer.learning_rate=1`, becomes that float), and a plugin that refuses its arguments with a
ValueError or TypeError is reported in one line. Each failure is a `ConfigError`; `python -m trainer`
prints that line alone.
"""

import functools
import inspect
import logging
from difflib import get_close_matches

from hydra.utils import get_object
from omegaconf import DictConfig

from trainer.config.ranges import declared, is_int, is_number
from trainer.config.settings import check_settings, typed_keys
from trainer.errors import ConfigError

log = logging.getLogger(__name__)

PLUGIN_SECTIONS = ("task", "model", "loss", "optimizer", "data", "schedule", "distribute")
NAMED_PLUGINS = ("metrics", "callbacks", "actions")  # sections of plugins by name
MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")  # Keras divides these by R itself
CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")  # Keras applies them before its sum over replicas
RUN_SETTINGS = ("trainer", "logging", "sweep")  # the typed sections a run reads (trainer/config/settings.py)
HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}


def check_config(cfg: DictConfig) -> None:
    check_known_sections(cfg)
    check_settings(cfg)
    monitors = ["loss", *cfg.metrics]
    if cfg.trainer.monitor not in monitors:
        raise ConfigError(f"trainer.monitor must be one of {', '.join(monitors)}; got {cfg.trainer.monitor!r}")
    check_plugins(cfg, PLUGIN_SECTIONS)
    for section in NAMED_PLUGINS:
        for name, node in cfg[section].items():
            check_plugin(node, f"{section}.{name}")


def check_plugins(cfg: DictConfig, sections: tuple[str, ...]) -> None:
    """`check_plugin` for each of the config's plugin `sections` that is set (schedule=constant is empty)."""
    for section in sections:
        if cfg[section]:
            check_plugin(cfg[section], section)


def check_known_sections(cfg: DictConfig) -> None:
    """Refuse a top-level key that nothing reads (`+no_such_key=1`), naming the closest key that is read."""
    known = [*PLUGIN_SECTIONS, *NAMED_PLUGINS, *RUN_SETTINGS, "output_dir"]
    for name in cfg:
        if name not in known:
            # a typed key by its last part too: +batch_size=64 meant trainer.batch_size
            typed = [key for key in typed_keys() if key.split(".")[0] in RUN_SETTINGS]
            keys = {**{key: key for key in known}, **{key.split(".")[-1]: key for key in typed}}
            close = get_close_matches(str(name), list(keys), n=1, cutoff=0.6)
            hint = f" (did you mean {keys[close[0]]}?)" if close else ""
            raise ConfigError(
                f"the config has no key {name}, and nothing reads it{hint}; its sections: {', '.join(known)}"
            )


def check_plugin(node: DictConfig, key: str) -> None:
    """Every key names an argument of `node._target_`, with a value its declaration accepts
    (trainer/config/ranges.py) and of its default's type; a nested plugin (a wrapper's inner optimizer) is
    checked the same way. Integers for float arguments become floats."""
    target = get_object(node._target_)
    parameters, specs = arguments(target), declared(target)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    for name in sorted(set(node) - HYDRA_KEYS):
        value = node[name]
        if isinstance(value, DictConfig) and "_target_" in value:
            check_plugin(value, f"{key}.{name}")
        elif name not in parameters:
            if not takes_any:
                raise ConfigError(
                    f"{key}.{name} is not an argument of {node._target_}; valid: {', '.join(sorted(parameters))}"
                )
        else:
            unset = value is None and parameters[name].default is None
            if name in specs and not unset and not specs[name].accepts(value):
                raise ConfigError(f"{key}.{name} must be {specs[name].words}; got {value!r}")
            converted = typed(value, parameters[name], f"{key}.{name}")
            if type(converted) is not type(value):  # only then: an interpolation stays one
                node[name] = converted


def typed(value, parameter: inspect.Parameter, key: str):
    """`value` as the type of the parameter's default, where that is a bool, an int or a float."""
    default = parameter.default
    if value is None or default is None or default is parameter.empty:
        return float(value) if is_int(value) and "learning_rate" in parameter.name else value  # a rate is real
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false; got {value!r}")
    elif isinstance(default, int):
        if not is_int(value):
            raise ConfigError(f"{key} must be an integer (its default is {default}); got {value!r}")
    elif isinstance(default, float):
        if not is_number(value):
            raise ConfigError(f"{key} must be a number (its default is {default}); got {value!r}")
        return float(value)
    return value


@functools.cache  # every run checks its plugins: inspecting their signatures anew took 4 ms a run
def arguments(target) -> dict[str, inspect.Parameter]:
    """The keyword arguments `target(...)` accepts: a function's, or a class's constructor's and its bases'
    as far as `**kwargs` passes them on (a Keras optimizer's `clipnorm`, ...), the first definition of each.
    Read only: the same dict answers each call."""
    if not inspect.isclass(target):
        return dict(inspect.signature(target).parameters)
    names = {}
    for klass in target.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
        for parameter in parameters:
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                names.setdefault(parameter.name, parameter)
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return names


def check_distributable(cfg: DictConfig, replicas: int, optimizer, loss_fn, batch_size: int | None) -> None:
    """Refuse, in one line, what does not run over several replicas; log how the global batch of
    `batch_size` examples is split (None: the run has no data)."""
    import keras

    from trainer.optimizers import ClosureOptimizer

    if replicas == 1:
        return
    where = f"distribute={cfg.distribute._target_.rsplit('.', 1)[-1]} runs {replicas} replicas"
    if isinstance(optimizer, ClosureOptimizer):
        raise ConfigError(
            f"optimizer: {cfg.optimizer._target_} evaluates the loss more than once per step, which a "
            f"step split over replicas cannot; {where}: choose a gradient optimizer such as "
            "optimizer=adam, or distribute=none"
        )
    if cfg.trainer.jit_compile:
        raise ConfigError(f"trainer.jit_compile=true: XLA compiles one device's step, and {where}; leave it null")
    if isinstance(loss_fn, keras.losses.Loss) and loss_fn.reduction not in MEAN_REDUCTIONS:
        raise ConfigError(
            f"loss.reduction={loss_fn.reduction}: each replica's share of a global batch's loss is "
            f"known for a mean, and {where}: use sum_over_batch_size, or distribute=none"
        )
    while optimizer is not None:  # through the wrappers: loss scaling, SWA, Lookahead, ...
        for option in CLIPPING:
            if getattr(optimizer, option, None) is not None:
                raise ConfigError(
                    f"optimizer {option}: Keras clips each replica's share of the gradient before it "
                    f"sums them, which is not the clipping of the whole batch's gradient, and {where}; "
                    "leave it unset, or distribute=none"
                )
        optimizer = getattr(optimizer, "inner_optimizer", None)
    if batch_size is not None and batch_size % replicas:
        raise ConfigError(
            f"trainer.batch_size={batch_size} is the global batch (at most the training examples), split "
            f"evenly over replicas, and {where}: choose a multiple of {replicas}"
        )
    if batch_size is not None:
        log.info("%d replicas: a global batch of %d, %d per replica", replicas, batch_size, batch_size // replicas)
