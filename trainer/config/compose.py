"""The project's configs composed by the notebook API, the benchmarks, the tests and the comparison's checks,
the one way plugins are found (the config groups on Hydra's search path), and values written as Hydra
overrides for the commands that start others (trainer.compare)."""

import functools
import re
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

from hydra import compose, initialize_config_module

import trainer.config.settings  # noqa: F401 (registers the schemas conf/ names)

CONF_MODULE = "trainer.conf"  # conf/, installed inside the package
CONF_DIR = Path(str(files(CONF_MODULE)))


def compose_config(*overrides: str, config_name: str = "config"):
    """conf/<config_name>.yaml composed with Hydra's override syntax, as `python -m trainer` would; inside a
    running app (trainer.compare's), on its search path, which holds a user's own `hydra.searchpath`."""
    with hydra_initialized():
        return compose(config_name, overrides=list(overrides))


@contextmanager
def config_loader():
    """Hydra's config loader: the running app's, whose search path holds a user's own `hydra.searchpath`, or
    outside an app one over the project's conf/."""
    from hydra.core.global_hydra import GlobalHydra

    with hydra_initialized():
        yield GlobalHydra.instance().config_loader()


@contextmanager
def hydra_initialized():
    """Hydra as the running app set it up, or outside an app over the project's conf/."""
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        yield
        return
    with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
        yield


def parse_each_interpolation_once() -> None:
    """Have OmegaConf parse each interpolation string (`${...}`) once a process. It parses one with ANTLR every
    time a value is read, 70-270 us on 2 cores, and a sweep's jobs read the same dozen strings about twenty
    times each (the checks, the structure key, the records, logging): 8 s of the 124 that a comparison of 2,300
    jobs took. OmegaConf only reads a parse tree once it is built, so one tree serves every reading of its
    string; the values are resolved at each reading, as before."""
    import omegaconf._utils
    import omegaconf.base
    import omegaconf.resolvers.oc
    from omegaconf import grammar_parser

    cached = functools.lru_cache(maxsize=1024)(grammar_parser.parse)
    for module in (omegaconf.base, omegaconf._utils, omegaconf.resolvers.oc):  # where OmegaConf calls it, by name
        if getattr(module, "parse", None) is grammar_parser.parse:
            module.parse = cached


def group_choices(group: str) -> list[str]:
    """The choices of a config group (the plugins of a kind), as Hydra finds them."""
    with config_loader() as loader:
        return loader.get_group_options(group)


def quoted(value: str) -> str:
    """`value` as a quoted value of Hydra's override grammar, which reads it back as it is: a quote, and the
    backslashes before a quote or the closing one, escaped."""
    escaped = re.sub(r"(\\*)'", lambda match: match.group(1) * 2 + "\\'", value)
    return "'" + re.sub(r"(\\+)$", lambda match: match.group(1) * 2, escaped) + "'"


def quoted_literal(value: str) -> str:
    """`quoted(value)` for a setting that OmegaConf resolves: its `${` escaped too, so that a directory named
    `${x}` is not read as an interpolation."""
    return quoted(re.sub(r"(\\*)\$\{", lambda match: match.group(1) * 2 + "\\${", value))
