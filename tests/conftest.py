"""Shared fixtures: real Hydra composition of `conf/`, small generated MNIST files, event-file reading."""
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from plugins.data.mnist import write_synthetic_mnist  # noqa: E402
from trainer.configs import CONF_DIR, compose_config  # noqa: E402

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


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in a run directory's event files, as tag -> [(step, value)], read by TensorBoard."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    return {
        tag: [(event.step, float(np.asarray(_tensor_value(event)))) for event in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
        if tag != "config"
    }


def read_text(run_dir: Path, tag: str) -> str:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    return _tensor_value(events.Tensors(tag)[0]).item().decode()


def _tensor_value(event):
    import tensorflow as tf

    return tf.make_ndarray(event.tensor_proto)
