"""DeepOBS' fmnist_2c2d and cifar10_3c3d as `python -m trainer experiment=<name>` composes them: DeepOBS' layers
and parameter counts, a loss that falls over a few dozen steps on small generated files of the real formats
(tests/conftest.py's fake_data; tests never download), test accuracy in metrics.json, and 3c3d's L2 penalty.

Reference: F. Schneider, L. Balles and P. Hennig, "DeepOBS: A Deep Learning Optimizer Benchmark Suite",
ICLR 2019; the networks as in deepobs/tensorflow/testproblems/_2c2d.py and _3c3d.py.
"""

import json

import numpy as np
import pytest
from hydra.utils import instantiate

from tests.conftest import fake_data, read_scalars
from trainer.train import train

# DeepOBS' parameter counts by hand, kernel + bias per layer. 2c2d on 28x28x1: "same" 5x5 convolutions, each
# 2x2 pooling halves the side, 28 -> 14 -> 7.
CNN_2C2D_PARAMETERS = (5 * 5 * 1 * 32 + 32) + (5 * 5 * 32 * 64 + 64) + (7 * 7 * 64 * 1024 + 1024) + (1024 * 10 + 10)
# 3c3d on 32x32x3: 5x5 valid 32 -> 28, pool 14; 3x3 valid 14 -> 12, pool 6; 3x3 same 6, pool 3: 3 * 3 * 128 inputs
# to the first dense layer.
CNN_3C3D_PARAMETERS = (
    (5 * 5 * 3 * 64 + 64)
    + (3 * 3 * 64 * 96 + 96)
    + (3 * 3 * 96 * 128 + 128)
    + (3 * 3 * 128 * 512 + 512)
    + (512 * 256 + 256)
    + (256 * 10 + 10)
)

PROBLEMS = {  # experiment -> its data plugin, its layers as `describe` gives them, its parameter count
    "fmnist_2c2d": (
        "fashion_mnist",
        [
            ("Reshape",),
            ("Conv2D", 32, 5, "same", "relu"),
            ("MaxPooling2D", 2, 2, "same"),
            ("Conv2D", 64, 5, "same", "relu"),
            ("MaxPooling2D", 2, 2, "same"),
            ("Flatten",),
            ("Dense", 1024, "relu"),
            ("Dense", 10, "linear"),
        ],
        CNN_2C2D_PARAMETERS,
    ),
    "cifar10_3c3d": (
        "cifar10",
        [
            ("Conv2D", 64, 5, "valid", "relu"),
            ("MaxPooling2D", 3, 2, "same"),
            ("Conv2D", 96, 3, "valid", "relu"),
            ("MaxPooling2D", 3, 2, "same"),
            ("Conv2D", 128, 3, "same", "relu"),
            ("MaxPooling2D", 3, 2, "same"),
            ("Flatten",),
            ("Dense", 512, "relu"),
            ("Dense", 256, "relu"),
            ("Dense", 10, "linear"),
        ],
        CNN_3C3D_PARAMETERS,
    ),
}


def describe(layer) -> tuple:
    """A layer as DeepOBS' source states it: kind, width, window, stride or padding, activation."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        return kind, layer.filters, layer.kernel_size[0], layer.padding, layer.activation.__name__
    if kind == "MaxPooling2D":
        return kind, layer.pool_size[0], layer.strides[0], layer.padding
    if kind == "Dense":
        return kind, layer.units, layer.activation.__name__
    return (kind,)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", PROBLEMS)
def test_the_experiment_trains_deepobs_network_and_reports_test_accuracy(make_config, tmp_path, experiment):
    """40 steps of batches of 32 (the experiments' own 128 would take four times as long), the loss logged as
    the mean of every 10 steps. Each mean is below the one before: 3c3d's SGD at 0.01 moves slowly from its
    start on these pixels in [0, 1] (about 2.30 to 2.27), 2c2d's Adam fast (about 2.2 to 0.01)."""
    import keras

    data, layers, parameters = PROBLEMS[experiment]
    overrides = ["trainer.steps=40", "trainer.batch_size=32", "trainer.log_every=10"]
    metrics = train(make_config(f"experiment={experiment}", *fake_data(data, tmp_path), *overrides))
    run = tmp_path / "run"
    model = keras.models.load_model(run / "model.keras")  # what the run exported
    losses = [loss for _, loss in read_scalars(run)["train/loss"]]

    assert [describe(layer) for layer in model.layers] == layers
    assert model.count_params() == parameters
    assert len(losses) == 4 and all(after < before for before, after in zip(losses, losses[1:]))
    assert metrics["steps"] == 40
    assert 0 <= json.loads((run / "metrics.json").read_text())["test_accuracy"] <= 1


def test_3c3d_penalizes_its_kernels_as_deepobs_does(make_config):
    """DeepOBS adds 0.002 * tf.nn.l2_loss(w) = 0.001 * sum(w**2) for each kernel, none for the biases; its
    kernels start Glorot-normal in the convolutions and Glorot-uniform in the dense layers."""
    model = instantiate(make_config("experiment=cifar10_3c3d").model)
    weighted = [layer for layer in model.layers if hasattr(layer, "kernel")]
    squares = sum(float(np.sum(np.square(layer.kernel.numpy()))) for layer in weighted)

    assert float(sum(model.losses)) == pytest.approx(0.002 * squares / 2, rel=1e-5)
    assert [type(layer.kernel_initializer).__name__ for layer in weighted] == ["GlorotNormal"] * 3 + [
        "GlorotUniform"
    ] * 3
    assert all(layer.bias_regularizer is None and not np.any(layer.bias.numpy()) for layer in weighted)


def test_the_train_step_minimizes_3c3d_penalty_with_its_loss(make_config):
    """The step adds a model's own losses (its weight decay) to the loss it differentiates, as Keras' fit does:
    one SGD step moves every kernel by lr * (the data loss' gradient + the L2 term's, 2 * 0.001 * w)."""
    import keras
    import tensorflow as tf

    from trainer.loop.step import make_train_step

    model = instantiate(make_config("model=cnn_3c3d").model)
    x, y = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32), np.arange(4, dtype=np.int32)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        data_loss = loss_fn(y, model(x, training=True))
    data_gradients = tape.gradient(data_loss, model.trainable_variables)
    before, penalty = [v.numpy() for v in model.trainable_variables], float(tf.add_n(model.losses))
    loss, _ = tf.function(make_train_step(model, loss_fn, keras.optimizers.SGD(0.1), {}))(x, y)

    assert float(loss) == pytest.approx(float(data_loss) + penalty, rel=1e-5)
    for variable, start, gradient in zip(model.trainable_variables, before, data_gradients):
        decay = 2 * 0.001 * start if "kernel" in variable.path else 0.0  # keras' L2(0.001): 0.001 * sum(w^2)
        np.testing.assert_allclose(variable.numpy(), start - 0.1 * (gradient.numpy() + decay), rtol=1e-4, atol=1e-6)
