"""What the commands (`python -m trainer`, `python -m trainer.compare`, `python -m trainer.gradcheck`) share:
each runs its Hydra app through `run_command`, so that every error a user can act on ends it with one line
on stderr and a non-zero exit (Hydra's own while composing, a bad setting or file, a directory that cannot
be written, Ctrl-C while starting), and HYDRA_FULL_ERROR=1 shows the whole traceback instead."""

import functools
import importlib
import importlib.util
import logging
import os
import sys

from omegaconf import OmegaConf

from trainer.errors import find_trainer_error
from trainer.outputs.locks import ClaimRefused

FULL_ERROR = "TRAINER_FULL_ERROR"  # the user's HYDRA_FULL_ERROR, which the commands set for themselves
INTERRUPTED = 130  # the shell's status for a death by SIGINT
BROKEN_PIPE = 141  # the shell's status for a death by SIGPIPE: the reader of the output closed it (`| head`)
COMPARE_GROUPS = ("suite",)  # groups of conf/compare.yaml alone, which the trainer's --help leaves out


def run_command(name: str, app) -> None:
    """Run the Hydra app `app` (a `@hydra.main` function) as the command `name`, its errors raised to here
    (HYDRA_FULL_ERROR=1, remembered as the user's own choice in TRAINER_FULL_ERROR) and each printed as one
    line `name: ...`."""
    from trainer.config.compose import parse_each_interpolation_once

    register_hydra_plugins()
    parse_each_interpolation_once()
    os.environ.setdefault(FULL_ERROR, os.environ.get("HYDRA_FULL_ERROR", "0"))
    os.environ["HYDRA_FULL_ERROR"] = "1"
    full = os.environ[FULL_ERROR] == "1"
    try:
        app()
    except KeyboardInterrupt:
        if full:
            raise
        print(
            f"{name}: interrupted while starting (Ctrl-C): no step was taken and nothing saved; run the same "
            "command to start again",
            file=sys.stderr,
        )
        sys.exit(INTERRUPTED)
    except ClaimRefused as refused:
        exit_with(name, refused.error)
    except BrokenPipeError:  # `trainer --help | head -3`: stop as a shell tool does, without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush writes nowhere
        sys.exit(BROKEN_PIPE)
    except Exception as error:
        problem = find_trainer_error(error)
        line = hydra_error_line(error) if problem is None else str(problem)
        if full or line is None:
            raise
        print(f"{name}: {line}", file=sys.stderr)
        sys.exit(getattr(problem, "exit_code", 1))


def exit_with(name: str, problem) -> None:
    """End the command `name` with `problem`, a TrainerError, as its one line and exit status."""
    print(f"{name}: {problem}", file=sys.stderr)
    sys.exit(problem.exit_code)


def hydra_error_line(error: Exception) -> str | None:
    """One line for an error Hydra raises while composing the config (an unknown choice, a key that is
    not there, a value of the wrong type, an override it cannot parse); None for any other error."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

    from trainer.config.settings import did_you_mean, typed_keys, valid_values

    if isinstance(error, MissingConfigException) and error.options is not None:
        group, _, name = error.missing_cfg_file.rpartition("/")
        return f"no {group} '{name}'{did_you_mean(name, error.options)}; choices: {', '.join(error.options)}"
    if isinstance(error, OverrideParseException):
        syntax = "Hydra's override syntax: key=value, +key=value, group=choice"
        return f"cannot parse the override: {first_line(error)} ({syntax})"
    cause = error.__cause__
    if not isinstance(error, ConfigCompositionException) or not isinstance(cause, OmegaConfBaseException):
        return first_line(error) if isinstance(error, ConfigCompositionException) else None
    section, _, name = cause.full_key.rpartition(".")
    if isinstance(cause, (ConfigKeyError, AttributeError)) and cause.full_key:
        elsewhere = [key for key in typed_keys() if key.endswith(f".{name}") and key != cause.full_key]
        hint = f" (did you mean {elsewhere[0]}?)" if elsewhere else did_you_mean(name, cause.parent_node or {}, section)
        return f"{section or 'the config'} has no key {name}{hint or f'; add a new one with +{cause.full_key}=...'}"
    valid = valid_values(cause.full_key)
    if valid is not None:
        return f"{cause.full_key} must be {valid}; got {cause.value!r}"
    return f"{cause.full_key}: {cause.msg}"


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


@functools.cache  # OmegaConf resolves it at every composition: twice per sweep job
def register_hydra_plugins() -> None:
    """The project's Hydra plugins (plugins/hydra/: the trainer launcher, every command's default through
    conf/config.yaml, and the Optuna sweeper), for Hydra to find where its scan of hydra_plugins does not: an
    editable install."""
    import hydra_plugins.trainer
    from hydra.core.plugins import Plugins

    Plugins.instance().register(hydra_plugins.trainer.TrainerLauncher)
    Plugins.instance().register(hydra_plugins.trainer.OptunaSweeper)
    Plugins.instance().register(hydra_plugins.trainer.ListSweeper)


def config_choices() -> str:
    """The config groups users choose from, each with its choices, for `--help`: what Hydra finds on its
    search path (a user's own searchpath included), less Hydra's groups, ours that start with '_', and the
    comparison's own (COMPARE_GROUPS)."""
    from trainer.config.compose import config_loader

    with config_loader() as loader:
        search_path = tuple((element.provider, element.path) for element in loader.get_search_path().get_path())
    return choices_on(search_path)


@functools.cache  # OmegaConf resolves the help text wherever Hydra resolves its config: 3 times a command, 0.15 s each
def choices_on(search_path: tuple) -> str:
    """`config_choices` listed once a process for each search path: `search_path` ((provider, path) pairs) is
    the cache's key; the listing reads the running loader's own."""
    from trainer.config.compose import config_loader

    with config_loader() as loader:
        groups = [
            group
            for group in sorted(loader.list_groups(""))
            if not group.startswith(("_", "hydra")) and group not in COMPARE_GROUPS
        ]
        return "\n".join(f"  {group}: {', '.join(loader.get_group_options(group))}" for group in groups)


# ${trainer_choices:} in the commands' --help templates (conf/hydra/help/, conf/lr_find.yaml, conf/gradcheck.yaml)
OmegaConf.register_new_resolver("trainer_choices", config_choices, replace=True)
# ${significant:${optimizer.learning_rate}}: a number to 3 significant digits, in the comparison's job directories
OmegaConf.register_new_resolver("significant", lambda value: f"{float(value):.3g}", replace=True)


def run_in_process(module: str, *args: str) -> int:
    """`python -m <module> *args` run to its end in this process, through the command's own entry (its Hydra
    app, its one-line errors), as a child process would run it, but sharing this one's imports and built
    programs (trainer/loop/reuse.py); return its exit status. This process's Hydra state, logging, environment
    and arguments are as they were after it."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    package = importlib.util.find_spec(module).submodule_search_locations is not None
    entry = importlib.import_module(f"{module}.__main__" if package else module).main
    hydra, hydra_config = GlobalHydra.instance().hydra, HydraConfig.instance().cfg
    handlers, level = logging.root.handlers[:], logging.root.level
    saved_argv, saved_environ = sys.argv, dict(os.environ)
    sys.argv = [module, *args]
    GlobalHydra.instance().clear()  # as a new process finds it
    try:
        entry()
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 1
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_environ)
        GlobalHydra.instance().clear()
        if hydra is not None:
            GlobalHydra.instance().initialize(hydra)
        HydraConfig.instance().cfg = hydra_config
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)
    return 0
