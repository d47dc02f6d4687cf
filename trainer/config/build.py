"""The one place plugins are built: Hydra's `instantiate`, with a plugin's refusal of its settings reported
in one line."""

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

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
