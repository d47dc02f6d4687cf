"""A multilayer perceptron classifier: flatten, dense hidden layers, one logit per class."""

from collections.abc import Sequence

import keras

from trainer.config.ranges import valid


@valid(
    input_shape="each int >= 1",
    units="each int >= 1",
    activation="any",  # any of Keras' activations, by name
    classes="int >= 1",
)
def mlp(input_shape: Sequence[int], units: Sequence[int], activation: str, classes: int) -> keras.Model:
    layers = [keras.Input(shape=tuple(input_shape)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(width, activation=activation) for width in units]
    layers.append(keras.layers.Dense(classes))
    return keras.Sequential(layers, name="mlp")
