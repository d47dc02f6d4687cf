"""Shared fixtures: real Hydra composition of `conf/`, small generated MNIST files, event-file reading, runs of
the command in the background."""

import contextlib
import copy
import functools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from trainer.plugins.data.cifar10 import write_synthetic_cifar10  # noqa: E402
from trainer.plugins.data.fashion_mnist import write_synthetic_fashion_mnist  # noqa: E402
from trainer.plugins.data.mnist import synthetic_images, write_synthetic_mnist  # noqa: E402

from trainer.config.compose import compose_config  # noqa: E402
from trainer.outputs.events import read_scalars, read_tensors  # noqa: E402,F401 (read_scalars is for the tests)

ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST = Path(os.environ.get("TRAINER_MNIST", ROOT.parent / "shared" / "data" / "mnist" / "mnist.npz"))


# What a test's run does not draw or print unless the test is about it: the graph's trace, pictures, progress.
FAST = ("logging.graph=false", "logging.pictures=false", "logging.progress=false")


@functools.cache
def composed(choices: tuple[str, ...]):
    """conf/config.yaml composed by Hydra with the group choices `choices` (`optimizer=adam`, ...), once per
    session; `make_config` sets the other overrides' values on a copy."""
    return compose_config(*choices)


def config_groups() -> set[str]:
    from trainer.config.compose import config_loader

    with config_loader() as loader:
        return set(loader.list_groups(""))


@pytest.fixture
def make_config(tmp_path):
    """`conf/config.yaml` with overrides, as `python -m trainer` would compose it, writing the run to a
    temporary directory and drawing nothing the test does not ask for (FAST). Hydra composes each set of
    group choices once per session; the values of the other overrides (`trainer.steps=5`, `+key=...`) are set
    on a copy, as Hydra sets them after composing."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf, open_dict

    def make(*overrides: str):
        parsed = OverridesParser.create().parse_overrides([f"output_dir={tmp_path / 'run'}", *FAST, *overrides])
        groups = config_groups()
        choices = tuple(o.input_line for o in parsed if o.key_or_group.split("@")[0] in groups)
        cfg = copy.deepcopy(composed(choices))
        for override in parsed:
            if override.key_or_group.split("@")[0] not in groups:
                with open_dict(cfg) if override.is_add() or override.is_force_add() else contextlib.nullcontext():
                    OmegaConf.update(cfg, override.key_or_group, override.value(), merge=False)
        return cfg

    return make


@pytest.fixture
def fake_mnist(tmp_path) -> Path:
    return write_synthetic_mnist(tmp_path / "mnist.npz")


def fake_data(name: str, directory: Path) -> list[str]:
    """Overrides that point data plugin `name` at small files of its format, written into `directory`: tests
    never download. None for a plugin whose package is not installed."""
    writers = {
        "mnist": lambda: [f"data.path={write_synthetic_mnist(directory / 'mnist.npz')}"],
        "fashion_mnist": lambda: [f"data.path={write_synthetic_fashion_mnist(directory / 'fashion-mnist')}"],
        "cifar10": lambda: [f"data.path={write_synthetic_cifar10(directory / 'cifar-10-batches-py')}"],
        "tfrecord": lambda: [f"data.{split}={path}" for split, path in write_mnist_tfrecords(directory).items()],
        "image_folder": lambda: [f"data.{split}={path}" for split, path in write_image_folders(directory).items()],
        "tfds": lambda: None,
    }
    return writers[name]() if name in writers else []


def write_mnist_tfrecords(directory: Path, train: int = 256, test: int = 64) -> dict[str, Path]:
    """MNIST-like fake digits as TFRecord files of plugins/data/tfrecord.py's format, by split."""
    from trainer.plugins.data.tfrecord import write_tfrecords

    splits = zip(("train", "test"), synthetic_images((28, 28), (train, test), seed=0))
    return {split: write_tfrecords(directory / f"{split}.tfrecord", x, y) for split, (x, y) in splits}


def write_image_folders(directory: Path, train: int = 128, test: int = 32) -> dict[str, Path]:
    """MNIST-like fake digits as PNG files in a folder per class, by split."""
    import keras

    folders = {}
    for split, (images, labels) in zip(("train", "test"), synthetic_images((28, 28), (train, test), seed=0)):
        for index, (image, label) in enumerate(zip(images, labels)):
            (directory / split / str(label)).mkdir(parents=True, exist_ok=True)
            keras.utils.save_img(directory / split / str(label) / f"{index:05d}.png", image[..., None], scale=False)
        folders[split] = directory / split
    return folders


def start_trainer(*args, **options):
    """`python -m trainer *args` started in the background, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "trainer", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def wait_for_checkpoint(run_dir, child, timeout=120):
    index = run_dir / "checkpoints" / "checkpoint"
    deadline = time.monotonic() + timeout
    while not index.exists():
        assert child.poll() is None, f"the run ended before its first checkpoint: {child.stderr.read()}"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)


def final_weights(run_dir):
    """The weights of the model a run exported."""
    import keras

    return keras.models.load_model(run_dir / "model.keras").get_weights()


def read_text(run_dir: Path, tag: str) -> str:
    return read_tensors(run_dir)[tag][0][1].item().decode()


def fit_save_and_reload(optimizer, tmp_path) -> None:
    """An MLP compiled with `optimizer` trains 4 steps in Keras' own `fit`, is saved as .keras and loaded back
    with the same weights and the same optimizer: its class, config, iterations and every variable."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8)).astype("float32"), rng.integers(0, 3, size=64)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")

    loaded = keras.models.load_model(tmp_path / "model.keras")

    assert int(model.optimizer.iterations.numpy()) == 4 and int(loaded.optimizer.iterations.numpy()) == 4
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for restored, saved in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())
    assert any(not np.array_equal(b, a) for b, a in zip(before, model.get_weights()))  # it trained
    for restored, saved in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(restored, saved)
