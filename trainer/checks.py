"""Checks of the composed config before anything is built, and the one place plugins are built.

The fixed sections are typed by trainer/settings.py; each plugin section (`task`, `model`, `loss`,
`optimizer`, `data`, `schedule`, `distribute`, and each of the `metrics`, `callbacks` and `actions`) is
checked against the signature of what its `_target_` names: every key must be an argument, a value
must have the type of the argument's default (an integer where the default is a float, such as
`optimizer.learning_rate=1`, becomes that float), and a plugin that refuses its arguments with a
ValueError or TypeError is reported in one line. Each failure is a `ConfigError`; `python -m trainer`
prints that line alone.
"""
import inspect

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig

from trainer.errors import ConfigError, find_trainer_error
from trainer.settings import check_settings

PLUGIN_SECTIONS = ("task", "model", "loss", "optimizer", "data", "schedule", "distribute")
NAMED_PLUGINS = ("metrics", "callbacks", "actions")  # sections of plugins by name
HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}


def check_config(cfg: DictConfig) -> None:
    check_settings(cfg)
    monitors = ["loss", *cfg.metrics]
    if cfg.trainer.monitor not in monitors:
        raise ConfigError(f"trainer.monitor must be one of {', '.join(monitors)}; got {cfg.trainer.monitor!r}")
    for section in PLUGIN_SECTIONS:
        if cfg[section]:  # schedule=constant is empty
            check_plugin(cfg[section], section)
    for section in NAMED_PLUGINS:
        for name, node in cfg[section].items():
            check_plugin(node, f"{section}.{name}")


def check_plugin(node: DictConfig, key: str) -> None:
    """Every key names an argument of `node._target_`, with a value of its default's type; a nested
    plugin (a wrapper's inner optimizer) is checked the same way. Integers for float arguments become floats."""
    if "learning_rate" in node and not (is_number(node.learning_rate) and node.learning_rate > 0):
        raise ConfigError(f"{key}.learning_rate must be a number > 0; got {node.learning_rate!r}")
    target = get_object(node._target_)
    parameters = arguments(target)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    for name in set(node) - HYDRA_KEYS:
        value = node[name]
        if isinstance(value, DictConfig) and "_target_" in value:
            check_plugin(value, f"{key}.{name}")
        elif name not in parameters:
            if not takes_any:
                raise ConfigError(f"{key}.{name} is not an argument of {node._target_}; valid: "
                                  f"{', '.join(sorted(parameters))}")
        else:
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


def arguments(target) -> dict[str, inspect.Parameter]:
    """The keyword arguments `target(...)` accepts: a function's, or a class's constructor's and its bases'
    as far as `**kwargs` passes them on (a Keras optimizer's `clipnorm`, ...), the first definition of each."""
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


def build(node: DictConfig, key: str, **kwargs):
    """`instantiate(node, **kwargs)`; a plugin that refuses its arguments (ValueError, TypeError) is
    reported in one line naming `key`, its target and the plugin's own reason."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        if find_trainer_error(error) is not None:
            raise find_trainer_error(error) from None
        cause = error.__cause__
        if not isinstance(cause, (ValueError, TypeError)):
            raise
        reason = " ".join(str(cause).split())
        raise ConfigError(f"{key}: {node._target_} refused its settings: {type(cause).__name__}: {reason}") from error


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
