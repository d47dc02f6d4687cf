"""What the command lines (`python -m trainer`, `python -m trainer.gradcheck`) share before they start."""

import functools


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
def config_choices() -> str:
    """The config groups users choose from, each with its choices, for `--help`: what Hydra finds on its
    search path (a user's own searchpath included), less Hydra's groups and ours that start with '_'."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    groups = [group for group in sorted(loader.list_groups("")) if not group.startswith(("_", "hydra"))]
    return "\n".join(f"  {group}: {', '.join(loader.get_group_options(group))}" for group in groups)
