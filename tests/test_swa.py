"""SWA matches TensorFlow Addons' rule and test numbers, ends training (the trainer's and `model.fit`'s) on its
average, trains, saves and reloads through Keras' compile/fit/.keras, and `update_batch_norm` recomputes the batch-norm
statistics as NumPy does by hand.

Provenance: TFA's numbers are from github.com/tensorflow/addons at its last commit,
d208d752e98c310280938efa939117bf635a60a8 (2024-04-15), tensorflow_addons/optimizers/tests/
stochastic_weight_averaging_test.py, `test_averaging`. The other expected values are written out by hand from TFA's
rule (stochastic_weight_averaging.py, `average_op`) or computed with NumPy; none with the code under test.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.optimizers.swa import SWA, update_batch_norm

from trainer.train import train


def test_averaging_matches_tfa():
    """TFA's test_averaging: SGD at 1.0, start_averaging 0, average_period 1, three steps of gradient 0.1; the
    weights are 0.9, 0.8, 0.7 (+1 for var_1) and their average 0.8, which `assign_average_vars` put in place, and
    `finalize_variable_values` here."""
    optimizer = SWA(keras.optimizers.SGD(learning_rate=1.0), start_averaging=0, average_period=1)
    var_0, var_1 = tf.Variable([1.0, 1.0]), tf.Variable([2.0, 2.0])
    grads_and_vars = list(zip([tf.constant([0.1, 0.1]), tf.constant([0.1, 0.1])], [var_0, var_1]))

    for _ in range(3):
        optimizer.apply_gradients(grads_and_vars)
    np.testing.assert_allclose(var_1.numpy(), [1.7, 1.7], rtol=1e-06, atol=1e-06)
    np.testing.assert_allclose(var_0.numpy(), [0.7, 0.7], rtol=1e-06, atol=1e-06)

    optimizer.finalize_variable_values([var_0, var_1])
    np.testing.assert_allclose(var_0.numpy(), [0.8, 0.8], rtol=1e-6)  # TFA: rtol 1e-7, in its float32 arithmetic
    np.testing.assert_allclose(var_1.numpy(), [1.8, 1.8], rtol=1e-6)


def test_snapshots_start_after_start_averaging_updates_and_recur_every_average_period():
    """TFA's rule with start_averaging 2, average_period 3: snapshots when 2, 5, 8 updates were taken before, i.e.
    of the weights after updates 3, 6 and 9. SGD at 1.0 with gradient 0.5 from 10 gives 10 - 0.5 j after j updates."""
    optimizer = SWA(keras.optimizers.SGD(learning_rate=1.0), start_averaging=2, average_period=3)
    variable = tf.Variable([10.0])
    for _ in range(10):
        optimizer.apply_gradients([(tf.constant([0.5]), variable)])
    np.testing.assert_allclose(variable.numpy(), [5.0])

    optimizer.finalize_variable_values([variable])
    np.testing.assert_allclose(variable.numpy(), [np.mean([10 - 0.5 * j for j in (3, 6, 9)])])  # 7.0


def test_the_weights_stay_until_the_first_snapshot():
    """Not TFA's: its assign_average_vars would put the average's zeros in place."""
    optimizer = SWA(keras.optimizers.SGD(learning_rate=1.0), start_averaging=3)
    variable = tf.Variable([10.0])
    for _ in range(3):
        optimizer.apply_gradients([(tf.constant([0.5]), variable)])

    optimizer.finalize_variable_values([variable])
    np.testing.assert_allclose(variable.numpy(), [8.5])


def test_a_trainer_run_ends_on_the_average_of_the_sgd_path(make_config):
    metrics = train(
        make_config(
            "optimizer=swa",
            "optimizer@optimizer.optimizer=sgd",
            "optimizer.learning_rate=0.1",
            "optimizer.start_averaging=4",
            "optimizer.average_period=5",
            "trainer.steps=20",
            "trainer.checkpoint_every=null",
            "logging.pictures=false",
            "logging.graph=false",
        )
    )

    path = [5.0]  # SGD at 0.1 on 2x^2 + x + 3, whose gradient is 4x + 1; snapshots after updates 5, 10, 15, 20
    for _ in range(20):
        path.append(path[-1] - 0.1 * (4 * path[-1] + 1))
    assert metrics["variables"]["x"] == pytest.approx(np.mean(path[5::5]), abs=1e-6)
    assert abs(np.mean(path[5::5]) - path[-1]) > 1e-3  # the average differs from where SGD ended


def test_update_batch_norm_averages_each_layers_batch_statistics():
    """Two BatchNormalization layers, the second fed by the first's training-mode output: each ends with the mean over
    the batches of its batch means and (biased) variances, computed here with NumPy from the model's weights.
    Statistics and momentum set beforehand are replaced and restored."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2),
            keras.layers.BatchNormalization(momentum=0.9),
        ]
    )
    first, second = model.layers[1], model.layers[3]
    for layer in (first, second):
        layer.gamma.assign(np.linspace(0.5, 2.0, layer.gamma.shape[0]))
        layer.beta.assign(np.linspace(-1.0, 1.0, layer.beta.shape[0]))
        layer.moving_mean.assign(np.full(layer.moving_mean.shape, 7.0))
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(size, 3)).astype("float32"), np.zeros(size)) for size in (8, 8, 5)]

    update_batch_norm(model, batches)

    (w1, b1), (w2, b2) = model.layers[0].get_weights(), model.layers[2].get_weights()
    statistics = {"first": [], "second": []}
    for x, _ in batches:
        h = x @ w1 + b1
        statistics["first"].append((h.mean(0), h.var(0)))
        normalized = first.gamma.numpy() * (h - h.mean(0)) / np.sqrt(h.var(0) + first.epsilon) + first.beta.numpy()
        h = normalized @ w2 + b2
        statistics["second"].append((h.mean(0), h.var(0)))
    for layer, name, momentum in ((first, "first", 0.99), (second, "second", 0.9)):
        means, variances = zip(*statistics[name])
        np.testing.assert_allclose(layer.moving_mean.numpy(), np.mean(means, axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.moving_variance.numpy(), np.mean(variances, axis=0), rtol=1e-5, atol=1e-6)
        assert layer.momentum == momentum


def batch_normalized_classifier() -> keras.Model:
    """Digits through BatchNormalization first, so that its statistics are those of the pixels themselves."""
    return keras.Sequential(
        [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.BatchNormalization(), keras.layers.Dense(10)]
    )


def test_a_run_with_swa_ends_with_the_batch_statistics_recomputed(make_config, fake_mnist, tmp_path):
    """The run's exported model has, as moving statistics, the average over the epoch's batches (in order) of
    each batch's pixel means and biased variances: not what training's momentum left."""
    cfg = make_config(
        "experiment=mnist", f"data.path={fake_mnist}", "optimizer=swa", "trainer.steps=16", "logging.pictures=false"
    )
    cfg.model = {"_target_": f"{__name__}.batch_normalized_classifier"}
    train(cfg)

    layer = keras.models.load_model(tmp_path / "run" / "model.keras").layers[1]
    pixels = np.load(fake_mnist)["x_train"].reshape(-1, 28 * 28).astype(np.float32) / 255.0
    batches = pixels.reshape(-1, 128, 28 * 28)  # 1024 examples: 8 whole batches
    np.testing.assert_allclose(layer.moving_mean.numpy(), batches.mean(axis=1).mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), batches.var(axis=1).mean(axis=0), atol=1e-5)
