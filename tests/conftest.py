"""Shared fixtures: real Hydra composition of `conf/`, small generated MNIST files, event-file reading."""
import os
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"
REAL_MNIST = Path(os.environ.get("TRAINER_MNIST", ROOT.parent / "shared" / "data" / "mnist" / "mnist.npz"))


@pytest.fixture
def make_config(tmp_path):
    """Compose `conf/config.yaml` with overrides, writing the run to a temporary directory."""

    def make(*overrides: str):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose("config", overrides=[f"output_dir={tmp_path / 'run'}", *overrides])

    return make


def write_fake_mnist(path: Path, train: int = 1024, test: int = 256, seed: int = 0) -> Path:
    """A Keras-format mnist.npz of learnable fake digits: one fixed noisy template per class."""
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, size=(10, 28, 28))

    def split(n):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        noise = rng.integers(-60, 61, size=(n, 28, 28))
        return np.clip(templates[labels] + noise, 0, 255).astype(np.uint8), labels

    (x_train, y_train), (x_test, y_test) = split(train), split(test)
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture
def fake_mnist(tmp_path) -> Path:
    return write_fake_mnist(tmp_path / "mnist.npz")


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
