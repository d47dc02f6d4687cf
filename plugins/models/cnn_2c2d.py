"""DeepOBS' 2c2d network: two 5x5 convolutions (32 and 64 filters, ReLU, each followed by 2x2 max pooling),
a dense layer of 1024 ReLU units and one logit per class. Grey images of shape (height, width) gain their
channel axis first.

Reference: F. Schneider, L. Balles and P. Hennig, "DeepOBS: A Deep Learning Optimizer Benchmark Suite",
ICLR 2019 (the mnist_2c2d and fmnist_2c2d problems).
"""

from collections.abc import Sequence

import keras

from trainer.config.ranges import valid


@valid(input_shape="each int >= 1", classes="int >= 1")
def cnn_2c2d(input_shape: Sequence[int], classes: int) -> keras.Model:
    shape = tuple(input_shape)
    layers = [keras.Input(shape=shape)]
    if len(shape) == 2:
        layers.append(keras.layers.Reshape((*shape, 1)))
    for filters in (32, 64):
        layers += [
            keras.layers.Conv2D(filters, 5, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2, padding="same"),
        ]
    layers += [keras.layers.Flatten(), keras.layers.Dense(1024, activation="relu"), keras.layers.Dense(classes)]
    return keras.Sequential(layers, name="cnn_2c2d")
