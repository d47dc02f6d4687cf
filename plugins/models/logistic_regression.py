"""Multinomial logistic regression: flatten, one dense layer of logits; with cross-entropy a convex
problem (DeepOBS' mnist_logreg and fmnist_logreg).

Reference: F. Schneider, L. Balles and P. Hennig, "DeepOBS: A Deep Learning Optimizer Benchmark Suite",
ICLR 2019.
"""

from collections.abc import Sequence

import keras

from trainer.config.ranges import valid


@valid(input_shape="each int >= 1", classes="int >= 1")
def logistic_regression(input_shape: Sequence[int], classes: int) -> keras.Model:
    return keras.Sequential(
        [keras.Input(shape=tuple(input_shape)), keras.layers.Flatten(), keras.layers.Dense(classes)],
        name="logistic_regression",
    )
