"""Shared fixtures: real Hydra composition of `conf/`, small generated MNIST files, event-file reading, runs of
the command in the background."""

import contextlib
import copy
import fcntl
import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

# XLA's cache of compiled programs (trainer.compilation_cache) for the commands the tests start: not the user's;
# matplotlib keeps its font list where it was (a new one costs seconds in every process)
user_cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
os.environ.setdefault("MPLCONFIGDIR", os.path.join(user_cache, "matplotlib"))
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="trainer-tests-cache-")

from trainer.startup import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()  # as the commands do: each test worker's output without TensorFlow's native notices

from trainer.plugins.data.cifar10 import write_synthetic_cifar10  # noqa: E402
from trainer.plugins.data.fashion_mnist import write_synthetic_fashion_mnist  # noqa: E402
from trainer.plugins.data.mnist import synthetic_images, write_synthetic_mnist  # noqa: E402
from trainer.plugins.data.python_source import write_python_files  # noqa: E402

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
        "python_source": lambda: [f"data.root={write_python_files(directory / 'stdlib')}"],
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


def trainer_process(*args: str, **options) -> subprocess.CompletedProcess:
    """`python -m trainer *args` in a process of its own, from the repository root, to its end (for a test of
    what a separate process does; run_trainer runs the command in this one)."""
    return subprocess.run(
        [sys.executable, "-m", "trainer", *args], cwd=ROOT, capture_output=True, text=True, timeout=600, **options
    )


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


def wait_for(directory: Path, pattern: str, child, timeout: float = 120) -> None:
    """Wait until `directory` holds a path that the glob `pattern` matches, while the process `child` runs."""
    deadline = time.monotonic() + timeout
    while not any(Path(directory).glob(pattern)):
        assert child.poll() is None, f"it ended before {pattern} appeared: {child.stderr.read()}"
        assert time.monotonic() < deadline, f"no {pattern} in {directory} within {timeout} s"
        time.sleep(0.01)


def wait_for_checkpoint(run_dir, child, timeout=120):
    wait_for(run_dir, "checkpoints/checkpoint", child, timeout)


def assert_unlocked(directory: Path) -> None:
    """No process holds a lock in `directory` any more: every run and sweep that wrote there has ended."""
    for lock in Path(directory).glob("**/.lock"):
        with open(lock, "a+b") as file:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)


def final_weights(run_dir):
    """The weights of the model a run exported."""
    import keras

    return keras.models.load_model(run_dir / "model.keras").get_weights()


def read_text(run_dir: Path, tag: str) -> str:
    return read_tensors(run_dir)[tag][0][1].item().decode()


def stepped(optimizer, start, gradients, dtype=None) -> list:
    """The variables' values after `optimizer` applied each step's gradients in turn: `start` the variables'
    first values, `gradients` one list per step (an (values, indices, dense_shape) tuple for a sparse one)."""
    import numpy as np
    import tensorflow as tf

    dtype = dtype or tf.float64
    variables = [tf.Variable(np.asarray(value), dtype=dtype) for value in start]
    for step in gradients:
        optimizer.apply_gradients(zip(gradient_tensors(step, dtype), variables))
    return [variable.numpy() for variable in variables]


def gradient_tensors(gradients, dtype) -> list:
    """Dense gradients as tensors, and (values, indices, dense_shape) tuples as IndexedSlices."""
    import tensorflow as tf

    return [
        tf.IndexedSlices(tf.constant(g[0], dtype), tf.constant(g[1]), tf.constant(g[2]))
        if isinstance(g, tuple)
        else tf.constant(g, dtype)
        for g in gradients
    ]


def choices(group: str) -> list[str]:
    """A config group's choices, as Hydra finds them: what parametrizes the tests over every plugin of a kind."""
    from trainer.config.compose import group_choices

    return group_choices(group)


def sampled_gradients(problem, count: int) -> np.ndarray:
    """`count` gradients of a stochastic scalar problem's training evaluations, one row each (float64)."""
    import tensorflow as tf

    variables = list(problem.named_variables.values())
    rows = []
    for _ in range(count):
        with tf.GradientTape() as tape:
            value = problem(training=True)
        rows.append(tf.stack(tape.gradient(value, variables)).numpy())
    return np.array(rows, dtype=np.float64)


def run_trainer(*args: str, command: str = "trainer") -> subprocess.CompletedProcess:
    """`python -m <command> *args` run to its end in this process (trainer.cli.run_in_process), as a finished
    process reports it: what the command prints, its log lines among them, and its status. A test of what a
    separate process does (a signal, the interpreter's own output, imports at start) starts one instead."""
    import io

    from absl import logging as absl_logging

    from trainer.cli import run_in_process

    # Hydra's logging setup closes every logging handler made so far; absl's, made when TensorFlow was
    # imported, holds the stderr that pytest captures, which it would close unless it is the process's own.
    absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = run_in_process(command, *args)
    return subprocess.CompletedProcess([command, *args], status, stdout.getvalue(), stderr.getvalue())


def run_sweep(sweep_dir, *overrides: str):
    """`python -m trainer -m <overrides>` into `sweep_dir`, which must succeed; its output and summary.csv rows."""
    import csv

    result = run_trainer("-m", *overrides, f"hydra.sweep.dir={sweep_dir}")
    assert result.returncode == 0, result.stderr
    with open(sweep_dir / "summary.csv", newline="") as file:
        return result, list(csv.DictReader(file))


def session_hparams(run_dir) -> dict:
    """The HParams session a run logged, parsed by TensorBoard's HParams plugin."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    content = events.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    hparams = metadata.parse_session_start_info_plugin_data(content).hparams
    return {name: getattr(value, value.WhichOneof("kind")) for name, value in hparams.items()}
