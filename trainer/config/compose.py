"""The project's configs composed outside a Hydra app: by the notebook API, the benchmarks and the tests."""

from importlib.resources import files
from pathlib import Path

from hydra import compose, initialize_config_module

import trainer.config.settings  # noqa: F401 (registers the schemas conf/ names)

CONF_MODULE = "trainer.conf"  # conf/, installed inside the package
CONF_DIR = Path(str(files(CONF_MODULE)))


def compose_config(*overrides: str, config_name: str = "config"):
    """conf/<config_name>.yaml composed with Hydra's override syntax, as `python -m trainer` would."""
    with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
        return compose(config_name, overrides=list(overrides))
