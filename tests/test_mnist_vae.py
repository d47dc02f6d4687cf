"""experiment=mnist_vae: DeepOBS' VAE (plugins/models/vae.py) trained on its own images (task=autoencoder) with
the negative ELBO (loss=negative_elbo), on a small generated MNIST file: the loss a step minimizes against the
formula computed by hand, a short run, and a reused run against the same run built afresh."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.data.mnist import write_synthetic_mnist

from tests.conftest import read_scalars
from trainer.loop.build import build_training
from trainer.loop.reuse import REUSABLE
from trainer.loop.step import make_train_step
from trainer.train import train

SHORT = ("trainer.batch_size=16",)  # quick steps


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    return write_synthetic_mnist(tmp_path_factory.mktemp("data") / "mnist.npz", train=256, test=64)


def negative_elbo(images, reconstruction, mean, log_std) -> float:
    """The loss of DeepOBS' mnist_vae, by hand: per image, the squared error summed over the pixels plus the
    KL term -1/2 sum(1 + 2 log_std - mean^2 - exp(2 log_std)); the mean over the batch."""
    squared_error = ((images - reconstruction) ** 2).reshape(len(images), -1).sum(axis=1)
    kl = -0.5 * (1 + 2 * log_std - mean**2 - np.exp(2 * log_std)).sum(axis=1)
    return float(np.mean(squared_error + kl))


def generator_at(state) -> keras.random.SeedGenerator:
    """A Keras seed generator whose next draw is the one a generator in `state` makes."""
    generator = keras.random.SeedGenerator(0)
    generator.state.assign(state)
    return generator


def test_a_step_minimizes_the_negative_elbo_of_the_models_outputs(make_config, mnist):
    run = build_training(make_config("experiment=mnist_vae", f"data.path={mnist}", "model.dropout=0", *SHORT))
    x, y = run.batches.batch(tf.constant(0, tf.int64))  # the loop's first batch
    assert x.dtype == tf.float32 and np.array_equal(x, y)  # the targets are the images, as the model reads them
    seeds = run.model.get_layer("z").seed_generator.state
    start = seeds.numpy()
    outputs = {name: value.numpy() for name, value in run.model(x, training=True).items()}
    seeds.assign(start)  # the step draws the same eps: dropout is off, nothing else is random
    loss, _ = make_train_step(run.model, run.loss_fn, run.optimizer, {})(x, y)

    assert float(loss) == pytest.approx(negative_elbo(x.numpy(), **outputs), rel=1e-6)


def test_the_sample_is_reparameterised_and_evaluation_draws_without_advancing(make_config, mnist):
    model = build_training(make_config("experiment=mnist_vae", f"data.path={mnist}", *SHORT)).model
    layer = model.get_layer("z")
    mean, log_std = tf.random.normal([4, 8], seed=1), tf.random.normal([4, 8], seed=2)
    start = layer.seed_generator.state.numpy()
    eps = keras.random.normal([4, 8], seed=generator_at(start))

    assert np.allclose(layer([mean, log_std], training=True), mean + tf.exp(log_std) * eps)
    trained = layer.seed_generator.state.numpy()
    assert not np.array_equal(trained, start)  # training draws anew at each call
    evaluated = [model(np.zeros((2, 28, 28), np.float32))["reconstruction"] for _ in range(2)]
    assert np.array_equal(*evaluated) and np.array_equal(layer.seed_generator.state, trained)


def test_a_short_run_lowers_the_loss_and_reports_it_and_a_reused_run_ends_as_the_run_built_afresh(make_config, mnist,
                                                                                                 tmp_path):  # fmt: skip
    """Dropout's and the sample's seed generators are model variables: a reused run takes them from a fresh
    build of its own seed (trainer/loop/reuse.py), as it takes the weights."""

    def run(directory: str, *overrides: str) -> dict:
        return train(make_config("experiment=mnist_vae", f"data.path={mnist}", *SHORT, "trainer.steps=30",
                                 "trainer.log_every=10", "optimizer.learning_rate=0.003", "trainer.deterministic=true",
                                 *overrides, f"output_dir={tmp_path / directory}"))  # fmt: skip

    REUSABLE.clear()
    afresh = run("afresh")
    other = run("other", "trainer.seed=3")  # the program of "afresh", another seed's draws
    reused = run("reused")
    assert len(REUSABLE.runs) == 1
    REUSABLE.clear()
    assert reused == afresh and other["loss"] != afresh["loss"]

    losses = [value for _, value in read_scalars(tmp_path / "afresh")["train/loss"]]
    with np.load(mnist) as arrays:
        images = arrays["x_train"] / 255
    mean_image = images.reshape(len(images), -1).var(axis=0).sum()  # the loss of decoding any image as their mean
    assert len(losses) == 3 and losses == sorted(losses, reverse=True)
    assert afresh["loss"] < mean_image + 2 and afresh["test_loss"] < mean_image + 2, (afresh, mean_image)
    assert json.loads((tmp_path / "afresh" / "metrics.json").read_text()) == afresh
    keras.models.load_model(tmp_path / "afresh" / "model.keras")  # its layer and loss are registered
