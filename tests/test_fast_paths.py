"""Fast paths change speed, not results beyond rounding: the logged loss trajectory is the same within a
stated tolerance whichever switch is set, and trainer.deterministic=true gives eager TensorFlow's bits."""

import numpy as np
import pytest

from tests.conftest import read_scalars
from trainer.config.compose import parse_each_interpolation_once
from trainer.train import train


@pytest.fixture
def loss_trajectory(make_config, tmp_path):
    """Train with overrides; return the logged train/loss values and the final metrics."""

    def run(*overrides):
        output_dir = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
        metrics = train(make_config(*overrides, f"output_dir={output_dir}"))
        return np.array([value for _, value in read_scalars(output_dir)["train/loss"]]), metrics

    return run


def test_xla_leaves_the_scalar_path_unchanged(loss_trajectory):
    compiled, compiled_metrics = loss_trajectory("trainer.steps=200", "trainer.jit_compile=true")
    plain, plain_metrics = loss_trajectory("trainer.steps=200", "trainer.jit_compile=false")

    np.testing.assert_allclose(compiled, plain, rtol=1e-6)
    assert compiled_metrics["variables"]["x"] == pytest.approx(plain_metrics["variables"]["x"], abs=1e-6)


MNIST = ["experiment=mnist", "trainer.epochs=2", "trainer.log_every=2", "trainer.jit_compile=false"]


@pytest.mark.parametrize(
    "switch, rtol",
    [
        ("trainer.pipeline=tf.data", 0),  # the very same batches, computed ahead
        ("trainer.steps_per_call=1", 0),
        ("trainer.jit_compile=true", 1e-4),  # XLA's kernels round differently
        ("trainer.precision=mixed_bfloat16", 0.1),  # 8-bit mantissas: close, not equal
        ("trainer.precision=mixed_float16", 0.05),  # 11-bit mantissas
    ],
)
def test_mnist_switch_keeps_the_loss_trajectory(loss_trajectory, fake_mnist, switch, rtol):
    reference, reference_metrics = loss_trajectory(*MNIST, f"data.path={fake_mnist}")
    switched, switched_metrics = loss_trajectory(*MNIST, f"data.path={fake_mnist}", switch)

    assert len(switched) == len(reference) == 8
    np.testing.assert_allclose(switched, reference, rtol=rtol)
    assert switched_metrics["test_accuracy"] == pytest.approx(reference_metrics["test_accuracy"], abs=max(rtol, 1e-6))


def test_interpolations_parsed_once_are_still_resolved_at_each_reading(monkeypatch):
    import omegaconf._utils
    import omegaconf.base
    import omegaconf.resolvers.oc
    from omegaconf import OmegaConf, grammar_parser

    for module in (omegaconf.base, omegaconf._utils, omegaconf.resolvers.oc):  # put back after the test
        monkeypatch.setattr(module, "parse", grammar_parser.parse)
    parse_each_interpolation_once()  # as every command does
    cfg = OmegaConf.create({"seed": 1, "model": {"seed": "${seed}"}, "dir": "${model.seed}_${oc.env:NO_SUCH_VAR,x}"})
    assert (cfg.model.seed, cfg.dir) == (1, "1_x")
    hits = omegaconf.base.parse.cache_info().hits
    cfg.seed = 2  # the trees are kept, not the values

    assert (cfg.model.seed, cfg.dir) == (2, "2_x")
    assert omegaconf.base.parse.cache_info().hits > hits


def test_unknown_precision_names_the_key_and_the_choices(make_config):
    with pytest.raises(ValueError, match=r"trainer.precision must be one of float32, mixed_float16, mixed_bfloat16"):
        train(make_config("trainer.precision=float64"))


def test_deterministic_reproduces_the_tutorials_eager_arithmetic_bit_for_bit(make_config, tmp_path):
    """The tutorials' 1000 SGD steps at 0.01 from x = 1 on 2x^2 + x + 3, stepped eagerly; XLA (the default
    without trainer.deterministic) rounds differently in the last bits."""
    import keras
    import tensorflow as tf

    x = tf.Variable(1.0)
    optimizer = keras.optimizers.SGD(0.01)
    for _ in range(1000):
        with tf.GradientTape() as tape:
            loss = 2 * x * x + x + 3
        optimizer.apply_gradients([(tape.gradient(loss, x), x)])

    tutorial = ["model.initial=[1.0]", "optimizer.learning_rate=0.01", "trainer.steps=1000"]
    metrics = train(make_config(*tutorial, "trainer.deterministic=true"))
    assert metrics["variables"]["x"] == float(x.numpy())  # -0.24999982118606567 on x86-64
    with_xla = train(make_config(*tutorial, f"output_dir={tmp_path / 'xla'}"))
    assert with_xla["variables"]["x"] == pytest.approx(float(x.numpy()), abs=1e-6)
