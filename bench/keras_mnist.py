"""`python -m bench.keras_mnist DATA EPOCHS LEARNING_RATE`: the plain Keras script that whole
`python -m trainer experiment=mnist` processes are measured against. It loads the Keras-format mnist.npz,
scales the pixels to [0, 1] and fits the same 784-128-10 MLP with Adam at batch 128; nothing else."""

import sys

import keras
import numpy as np


def main() -> None:
    path, epochs, learning_rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    with np.load(path) as data:
        x, y = data["x_train"].astype(np.float32) / 255.0, data["y_train"]
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)


if __name__ == "__main__":
    main()
