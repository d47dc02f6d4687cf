"""The project's configs composed outside a Hydra app: by the notebook API, the benchmarks and the tests."""
from pathlib import Path

from hydra import compose, initialize_config_dir

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_config(*overrides: str, config_name: str = "config"):
    """conf/<config_name>.yaml composed with Hydra's override syntax, as `python -m trainer` would."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name, overrides=list(overrides))
