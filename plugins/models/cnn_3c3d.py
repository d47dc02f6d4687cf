"""DeepOBS' 3c3d network: three ReLU convolutions (64 filters 5x5 and 96 filters 3x3 unpadded, 128 filters 3x3
padded), each followed by 3x3 max pooling of stride 2; dense layers of 512 and 256 ReLU units; one logit per
class. Grey images of shape (height, width) gain their channel axis first.

As in DeepOBS: the convolutions' kernels start Glorot-normal, the dense layers' Glorot-uniform, every bias at 0,
and each kernel (not the biases) carries the L2 penalty `weight_decay * tf.nn.l2_loss(kernel)`, that is
`weight_decay / 2 * sum(kernel ** 2)`, which Keras writes `L2(weight_decay / 2)`. Keras keeps such penalties
in `model.losses`, which the train step (trainer/loop/step.py) adds to the loss it minimizes, as `fit` does.

Not part of the network, and not done by the data plugin (plugins/data/cifar10.py, pixels in [0, 1]): DeepOBS'
CIFAR-10 pipeline standardizes each image (`tf.image.per_image_standardization`) and augments the training
images (random crops of the image padded to 36x36, flips, brightness, saturation and contrast).

Reference: F. Schneider, L. Balles and P. Hennig, "DeepOBS: A Deep Learning Optimizer Benchmark Suite",
ICLR 2019 (the cifar10_3c3d and cifar100_3c3d problems); the layers as in DeepOBS' source,
deepobs/tensorflow/testproblems/_3c3d.py (github.com/fsschneider/DeepOBS).
"""

from collections.abc import Sequence

import keras

from trainer.config.ranges import valid


@valid(input_shape="each int >= 1", classes="int >= 1", weight_decay=">= 0")
def cnn_3c3d(input_shape: Sequence[int], classes: int, weight_decay: float = 0.002) -> keras.Model:
    shape = tuple(input_shape)
    penalty = keras.regularizers.L2(weight_decay / 2) if weight_decay else None
    layers = [keras.Input(shape=shape)]
    if len(shape) == 2:
        layers.append(keras.layers.Reshape((*shape, 1)))
    for filters, size, padding in ((64, 5, "valid"), (96, 3, "valid"), (128, 3, "same")):
        layers += [
            keras.layers.Conv2D(
                filters,
                size,
                padding=padding,
                activation="relu",
                kernel_initializer="glorot_normal",
                kernel_regularizer=penalty,
            ),
            keras.layers.MaxPooling2D(3, strides=2, padding="same"),
        ]
    layers.append(keras.layers.Flatten())
    layers += [keras.layers.Dense(units, activation="relu", kernel_regularizer=penalty) for units in (512, 256)]
    layers.append(keras.layers.Dense(classes, kernel_regularizer=penalty))
    return keras.Sequential(layers, name="cnn_3c3d")
