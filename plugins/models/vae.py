"""DeepOBS' variational autoencoder (the mnist_vae problem). The encoder: three convolutions of 64 filters 4x4
(strides 2, 2 and 1, padded, leaky ReLU of slope 0.3), each followed by dropout; two dense heads of `latent`
units, the posterior's mean and log standard deviation, the latter halved as in DeepOBS. A sample
z = mean + exp(log_std) * eps, eps ~ N(0, I), reparameterised so that the loss differentiates through it.
The decoder: dense layers of 24 and 49 units (leaky ReLU) read as a 7x7 image, three transposed convolutions
of 64 filters 4x4 (strides 2, 1 and 1, padded, ReLU), dropout after the first two, and a dense sigmoid layer
of one unit per pixel. Grey images of shape (height, width) gain their channel axis first.

The model returns {"reconstruction", "mean", "log_std"}: the loss (plugins/losses/negative_elbo.py) needs all
three, and so every pass that takes the loss (training, evaluation of the test split, the gradient check)
takes the whole negative ELBO, its KL term included. Layers start as TensorFlow 1's did in DeepOBS (Glorot-
uniform kernels, zero biases), which are Keras' defaults.

Reference: F. Schneider, L. Balles and P. Hennig, "DeepOBS: A Deep Learning Optimizer Benchmark Suite",
ICLR 2019 (mnist_vae and fmnist_vae; the layers as in deepobs/tensorflow/testproblems/_vae.py); D. P. Kingma
and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
"""

import math
from collections.abc import Sequence

import keras
import tensorflow as tf

from trainer.config.ranges import valid

FILTERS, KERNEL = 64, 4  # every convolution's, encoder and decoder
SLOPE = 0.3  # DeepOBS' leaky ReLU: max(x, 0.3 x)


@keras.saving.register_keras_serializable(package="trainer")
class GaussianSample(keras.layers.Layer):
    """mean + exp(log_std) * eps from [mean, log_std], eps standard normal.

    Training draws eps anew at each call from the layer's Keras seed generator, as Dropout draws its masks:
    its seed comes from `trainer.seed` (through Keras' global seeding) and its state is a variable of the
    model, which a checkpoint saves and a reused run (trainer/loop/reuse.py) takes from a fresh build. Outside
    training (the test split's evaluation, the gradient check), eps is drawn from the generator's current
    state without advancing it: each evaluation of the same weights gives the same loss, and leaves the
    training draws as they were. (DeepOBS draws fresh noise for each test batch; here every batch of an
    evaluation takes the same eps.)"""

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        mean, log_std = inputs
        shape = keras.ops.shape(mean)
        if training:
            eps = keras.random.normal(shape, dtype=mean.dtype, seed=self.seed_generator)
        else:  # the state as a stateless seed; TensorFlow's take int32 (Keras' own draws fold it the same way)
            seed = tf.cast(tf.math.floormod(self.seed_generator.state.value, tf.int32.max - 1), tf.int32)
            eps = tf.random.stateless_normal(shape, seed=seed, dtype=mean.dtype)
        return mean + keras.ops.exp(log_std) * eps

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


@valid(input_shape="each int >= 1", latent="int >= 1", dropout="[0, 1)")
def vae(input_shape: Sequence[int] = (28, 28), latent: int = 8, dropout: float = 0.2) -> keras.Model:
    shape = tuple(input_shape)
    images = keras.Input(shape=shape)
    x = keras.layers.Reshape((*shape, 1))(images) if len(shape) == 2 else images
    for strides in (2, 2, 1):
        x = keras.layers.Conv2D(FILTERS, KERNEL, strides=strides, padding="same")(x)
        x = keras.layers.Dropout(dropout)(keras.layers.LeakyReLU(SLOPE)(x))
    x = keras.layers.Flatten()(x)
    mean = keras.layers.Dense(latent, name="mean")(x)
    log_std = keras.layers.Rescaling(0.5, name="log_std")(keras.layers.Dense(latent)(x))
    reconstruction = decoder(GaussianSample(name="z")([mean, log_std]), shape, dropout)
    return keras.Model(images, {"reconstruction": reconstruction, "mean": mean, "log_std": log_std}, name="vae")


def decoder(z, shape: tuple, dropout: float):
    """The image of `shape`, in [0, 1], that the decoder makes of the latent sample `z`."""
    x = keras.layers.LeakyReLU(SLOPE)(keras.layers.Dense(24)(z))
    x = keras.layers.LeakyReLU(SLOPE)(keras.layers.Dense(49)(x))
    x = keras.layers.Reshape((7, 7, 1))(x)
    for strides, dropped in ((2, True), (1, True), (1, False)):
        x = keras.layers.Conv2DTranspose(FILTERS, KERNEL, strides=strides, padding="same", activation="relu")(x)
        x = keras.layers.Dropout(dropout)(x) if dropped else x
    x = keras.layers.Dense(math.prod(shape), activation="sigmoid")(keras.layers.Flatten()(x))
    return keras.layers.Reshape(shape, name="reconstruction")(x)
