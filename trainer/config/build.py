"""The one place plugins are built: Hydra's `instantiate`, with a plugin's refusal of its settings reported
in one line naming its key."""

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from trainer.errors import ConfigError, find_trainer_error


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


def build_named(section: DictConfig, key: str) -> dict:
    """Each plugin of a section of named plugins (`actions`, `metrics`) by name, built by one `instantiate` of
    the section: a call per plugin cost a run 5 ms more. Where one refuses its settings, they are built one by
    one, so that the line names it; so they are where the section's result is a config, not what a plugin gave
    (OmegaConf converts a dataclass, a dict or a list it holds)."""
    try:
        built = dict(instantiate(section))
    except InstantiationException:
        built = None
    if built is None or any(OmegaConf.is_config(plugin) for plugin in built.values()):
        return {name: build(node, f"{key}.{name}") for name, node in section.items()}
    return built
