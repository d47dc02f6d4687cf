"""python -m trainer.gradcheck: tape gradients against float64 central differences, for every model and
loss plugin, and a failure naming the variable where a gradient is deliberately broken."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, choices, fake_data
from trainer.config.compose import compose_config
from trainer.gradcheck import gradient_check

TOLERANCE = 1e-5


# The models trained on data, by the experiment they are trained in, its data plugin and its loss; the other
# models are scalar problems, checked with loss=objective.
ON_DATA = {
    "mlp": ("mnist", "mnist", "sparse_categorical_crossentropy"),
    "logistic_regression": ("mnist", "mnist", "sparse_categorical_crossentropy"),
    "cnn_2c2d": ("mnist", "mnist", "sparse_categorical_crossentropy"),
    "cnn_3c3d": ("cifar10_3c3d", "cifar10", "sparse_categorical_crossentropy"),
    "char_rnn": ("python_char_rnn", "python_source", "sparse_categorical_crossentropy"),
    "vae": ("mnist_vae", "mnist", "negative_elbo"),
}
# The LSTM's smallest gradient elements are ~1e-7: at epsilon 1e-6, rounding alone errs by ~2e-3 relative; a
# smaller network and a larger step measure it (1.9e-5 at most). The VAE's loss sums 784 squared errors (~70,
# 30 times a cross-entropy), and so does the rounding in its differences: 5.7e-4 at most, on one image; a larger
# step or batch moves some of its 37,000 ReLUs of an image across their kinks (5e-2 at epsilon 1e-5).
SETTINGS = {
    "char_rnn": [
        "data.sequence_length=20",
        "model.units=[32,32]",
        "model.embedding=16",
        "gradcheck.epsilon=1e-4",
    ],
    "vae": ["gradcheck.batch_size=1"],
}
TOLERANCES = {"char_rnn": 1e-4, "vae": 1e-3}


def model_and_loss(model: str, data_dir) -> list[str]:
    """The overrides that pair a model plugin with the loss (and data) it is trained with."""
    if model not in ON_DATA:
        return [f"model={model}", "loss=objective"]
    experiment, data, loss = ON_DATA[model]
    return [f"experiment={experiment}", f"model={model}", f"loss={loss}", *fake_data(data, data_dir),
            *SETTINGS.get(model, [])]  # fmt: skip


def gradcheck_config(fake_mnist, *overrides):
    data = [f"data.path={fake_mnist}"] if "experiment=mnist" in overrides else []
    return compose_config(*overrides, *data, "output_dir=unused", config_name="gradcheck")


@pytest.mark.parametrize("model", choices("model"))
def test_every_model_plugin_passes_with_its_loss(fake_mnist, tmp_path, model):
    errors = gradient_check(gradcheck_config(fake_mnist, *model_and_loss(model, tmp_path)))

    tolerance = TOLERANCES.get(model, TOLERANCE)
    assert errors and all(error < tolerance for error in errors.values()), errors


def test_every_loss_plugin_is_checked():
    checked = {ON_DATA[model][2] if model in ON_DATA else "objective" for model in choices("model")}
    assert checked == set(choices("loss"))


BROKEN_MODEL = '''
import tensorflow as tf

from trainer.plugins.models.quadratic import Quadratic


class BrokenQuadratic(Quadratic):
    """The tutorial quadratic whose linear term the tape cannot see: a wrong gradient."""

    def objective(self, *values):
        v = tf.stack(values)
        return tf.reduce_sum(self.square * v * v + tf.stop_gradient(self.linear * v)) + self.constant
'''


@pytest.fixture
def broken_model(tmp_path, monkeypatch):
    (tmp_path / "broken_model.py").write_text(BROKEN_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_broken_gradient_is_found(fake_mnist, broken_model):
    errors = gradient_check(gradcheck_config(fake_mnist, "model._target_=broken_model.BrokenQuadratic"))

    assert errors["x"] > 0.01


def test_a_refused_setting_is_named_in_the_line_a_run_gives_it(fake_mnist):
    from trainer.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"^model.initial must be a list of numbers in \(-inf, inf\); got \['a', 'b'\]$"
    ):
        gradient_check(gradcheck_config(fake_mnist, "model=rosenbrock", "loss=objective", "model.initial=[a,b]"))


@pytest.mark.slow
@pytest.mark.parametrize("broken", [False, True])
def test_command_line_exit_status_and_report(broken_model, broken):
    target = ["model._target_=broken_model.BrokenQuadratic"] if broken else []
    result = subprocess.run(
        [sys.executable, "-m", "trainer.gradcheck", *target],
        cwd=broken_model,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": f"{broken_model}{os.pathsep}{ROOT}"},
    )

    assert result.stdout.startswith("x  largest relative error ")
    if broken:
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == (
            "trainer.gradcheck: the tape gradient of x differs from finite differences by more than "
            "gradcheck.tolerance=1e-05"
        )
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout.rstrip().endswith("ok")
    assert sorted(path.name for path in broken_model.iterdir()) == ["broken_model.py"]  # nothing written
