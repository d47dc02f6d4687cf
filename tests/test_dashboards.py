"""What each run gives the dashboards beyond scalars: its HParams session, the train loop's graph, weight
and gradient histograms, pictures, and progress on the terminal."""

import logging
import os
import pty
import re
import subprocess
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import ROOT, read_tensors, session_hparams
from trainer.train import train


def test_run_logs_its_hyperparameters_as_an_hparams_session(make_config, tmp_path):
    train(make_config("optimizer=adam", "optimizer.learning_rate=0.05", "schedule=cosine_decay", "trainer.steps=10"))

    hparams = session_hparams(tmp_path / "run")
    assert hparams["optimizer"] == "Adam" and hparams["optimizer.learning_rate"] == pytest.approx(0.05)
    assert hparams["optimizer.beta_1"] == pytest.approx(0.9)
    assert hparams["schedule"] == "CosineDecay" and hparams["model"] == "Quadratic"
    assert hparams["model.square"] == "[2.0]"
    assert (hparams["trainer.steps"], hparams["trainer.seed"], hparams["trainer.batch_size"]) == (10, 0, 128)


def test_train_loop_graph_is_logged_once(make_config, tmp_path):
    train(make_config("trainer.steps=30", "trainer.log_every=10", "logging.graph=true"))

    events = EventAccumulator(str(tmp_path / "run"))
    events.Reload()
    graph = events.Graph()
    assert "While" in {node.op for node in graph.node}  # the compiled tf.range loop of train steps
    assert any(function.signature.name.startswith("while_body") for function in graph.library.function)
    train(make_config("trainer.steps=30", "logging.graph=false", f"output_dir={tmp_path / 'nograph'}"))
    events = EventAccumulator(str(tmp_path / "nograph"))
    events.Reload()
    assert not events.Tags()["graph"]


def test_histograms_of_weights_and_gradients_every_histogram_every_steps(make_config, tmp_path):
    train(make_config("trainer.steps=4", "logging.histogram_every=2"))  # SGD at 0.1 on 2x^2 + x + 3 from 5

    tensors = read_tensors(tmp_path / "run")
    assert [step for step, _ in tensors["weights/x"]] == [2, 4]
    assert [step for step, _ in tensors["gradients/x"]] == [2, 4]
    x = 5.0
    for _ in range(2):
        x -= 0.1 * (4 * x + 1)
    for tag, value in (("weights/x", x), ("gradients/x", 4 * x + 1)):  # x = 1.64, its gradient 7.56
        ((left, right, count),) = [bucket for bucket in tensors[tag][0][1] if bucket[2] > 0]  # the one value
        assert count == 1 and left <= value + 1e-5 and value - 1e-5 <= right and right - left < 1e-3


def test_mnist_histograms_cover_every_layer(make_config, fake_mnist, tmp_path):
    train(make_config("experiment=mnist", f"data.path={fake_mnist}", "logging.histogram_every=4", "trainer.steps=8"))

    tags = [tag for tag in read_tensors(tmp_path / "run") if tag.startswith(("weights/", "gradients/"))]
    weights = sorted(tag.removeprefix("weights/") for tag in tags if tag.startswith("weights/"))
    assert sorted(tag.removeprefix("gradients/") for tag in tags if tag.startswith("gradients/")) == weights
    # Keras numbers layer names per process: mlp/dense/kernel in a fresh one, mlp/dense_18/kernel later.
    assert [re.sub(r"dense(_\d+)?", "dense", path).split("/", 2)[::2] for path in weights] == [
        ["mlp", "bias"],
        ["mlp", "kernel"],
        ["mlp", "bias"],
        ["mlp", "kernel"],
    ]


def png_size(path) -> tuple[int, int]:
    import tensorflow as tf

    shape = tf.image.decode_png(path.read_bytes()).shape
    return shape[1], shape[0]


@pytest.mark.parametrize("overrides", [(), ("experiment=rosenbrock", "trainer.steps=200")], ids=["1-D", "2-D"])
def test_scalar_run_saves_and_logs_its_landscape(make_config, tmp_path, overrides):
    train(make_config(*overrides, "logging.pictures=true"))

    width, height = png_size(tmp_path / "run" / "landscape.png")
    assert width > 400 and height > 300
    ((step, image),) = read_tensors(tmp_path / "run")["landscape"]
    assert step == (200 if overrides else 1000) and image[:2].tolist() == [str(width).encode(), str(height).encode()]


def test_a_grid_of_paths_leaves_the_landscape_its_size(tmp_path):
    from trainer.plugins.models.rosenbrock import Rosenbrock

    from trainer.outputs.pictures import NAMED_PATHS, landscape_png

    problem = Rosenbrock(a=1.0, b=100.0, initial=[-1.0, 1.0])
    grid = {f"optimizer.learning_rate={rate}": np.array([[-1.0, 1.0], [0.1 * rate, 0.5]]) for rate in range(360)}
    named = dict(list(grid.items())[:NAMED_PATHS])
    for name, paths in (("named", named), ("grid", grid)):
        (tmp_path / f"{name}.png").write_bytes(landscape_png(problem, paths, f"Rosenbrock: {len(paths)} jobs"))

    (_, named_height), (_, height) = png_size(tmp_path / "named.png"), png_size(tmp_path / "grid.png")
    assert height < 700 < named_height  # 360 paths drawn without a legend line each; 20 named, 10 rows of them


def test_three_variable_problem_has_no_landscape(make_config, tmp_path):
    train(
        make_config(
            "model.names=[a,b,c]",
            "model.square=[1,2,3]",
            "model.linear=[0,0,0]",
            "model.initial=[1,1,1]",
            "trainer.steps=10",
        )
    )

    assert not (tmp_path / "run" / "landscape.png").exists()


def test_mnist_run_saves_misclassified_digits_and_confusion_matrix(make_config, fake_mnist, tmp_path):
    train(make_config("experiment=mnist", f"data.path={fake_mnist}", "trainer.steps=3", "logging.pictures=true"))

    tensors = read_tensors(tmp_path / "run")
    for name in ("misclassified", "confusion_matrix"):
        assert (tmp_path / "run" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
        assert [step for step, _ in tensors[name]] == [3]


def test_pictures_off(make_config, tmp_path):
    train(make_config("trainer.steps=10", "logging.pictures=false"))

    assert not (tmp_path / "run" / "landscape.png").exists() and "landscape" not in read_tensors(tmp_path / "run")


def progress_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.getMessage().startswith("step ")]


def test_progress_is_a_line_per_tenth_with_loss_and_steps_per_second(make_config, caplog):
    with caplog.at_level(logging.INFO, logger="trainer.train"):
        train(make_config("trainer.steps=200", "trainer.log_every=10", "logging.progress=true"))

    lines = progress_lines(caplog)
    assert [line.split()[1] for line in lines] == [f"{step}/200" for step in range(20, 201, 20)]
    assert all(" loss=" in line and np.isfinite(float(line.rsplit("steps/s=", 1)[1])) for line in lines)


def test_progress_false_is_quiet(make_config, caplog):
    with caplog.at_level(logging.INFO, logger="trainer.train"):
        train(make_config("trainer.steps=200", "trainer.log_every=10", "logging.progress=false"))

    assert progress_lines(caplog) == []


@pytest.mark.slow
def test_progress_bar_on_a_terminal(tmp_path):
    """On a terminal the run draws Keras' progress bar, redrawn in place, instead of the plain lines."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "trainer", "trainer.steps=3000", f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.DEVNULL,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the run ended and closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0
    text = output.decode(errors="replace")
    assert "3000/3000" in text and "loss: 2.875" in text and "steps/s: " in text and "\r" in text
    assert "step 300/3000" not in text
