"""Shared fixtures: real Hydra composition of `conf/`, small generated MNIST files, event-file reading."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from trainer.plugins.data.mnist import write_synthetic_mnist  # noqa: E402
from trainer.configs import CONF_DIR, compose_config  # noqa: E402
from trainer.events import read_scalars, read_tensors  # noqa: E402,F401 (read_scalars is for the tests)

ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST = Path(os.environ.get("TRAINER_MNIST", ROOT.parent / "shared" / "data" / "mnist" / "mnist.npz"))


@pytest.fixture
def make_config(tmp_path):
    """Compose `conf/config.yaml` with overrides, writing the run to a temporary directory."""

    def make(*overrides: str):
        return compose_config(f"output_dir={tmp_path / 'run'}", *overrides)

    return make


@pytest.fixture
def fake_mnist(tmp_path) -> Path:
    return write_synthetic_mnist(tmp_path / "mnist.npz")


def read_text(run_dir: Path, tag: str) -> str:
    return read_tensors(run_dir)[tag][0][1].item().decode()
