"""The loss of a variational autoencoder (plugins/models/vae.py): the negative evidence lower bound (ELBO) of
each example, averaged over the batch, as DeepOBS' mnist_vae takes it. For an image x, its reconstruction r
and the posterior's mean m and log standard deviation s (the model's outputs, by name):

    sum over pixels of (x - r)^2  -  1/2 * sum over latent units of (1 + 2 s - m^2 - exp(2 s))

the squared error (the negative log-likelihood of a Gaussian decoder of variance 1/2, less its constant) plus
the KL divergence of the posterior N(m, exp(s)^2) from the prior N(0, I), in closed form.

Reference: D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (appendix B); F.
Schneider, L. Balles and P. Hennig, "DeepOBS", ICLR 2019 (deepobs/tensorflow/testproblems/mnist_vae.py).
"""

import keras


@keras.saving.register_keras_serializable(package="trainer")
class NegativeELBO(keras.losses.Loss):
    """Keras' mean over the batch of `per_example`; it takes the model's outputs in the loss's own dtype
    (float32 under a mixed precision: sums of 784 squares; float64 in the gradient check)."""

    def __init__(self, name: str = "negative_elbo", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, images, outputs: dict):
        return per_example(images, outputs)


def per_example(images, outputs: dict):
    """Each example's squared reconstruction error plus its KL term."""
    reconstruction, mean, log_std = (outputs[name] for name in ("reconstruction", "mean", "log_std"))
    batch = keras.ops.shape(reconstruction)[0]
    error = keras.ops.reshape(images - reconstruction, (batch, -1))
    kl = -0.5 * keras.ops.sum(1.0 + 2.0 * log_std - mean**2 - keras.ops.exp(2.0 * log_std), axis=-1)
    return keras.ops.sum(error**2, axis=-1) + kl
