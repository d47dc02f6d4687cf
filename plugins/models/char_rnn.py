"""DeepOBS' character-level RNN (Char RNN): an embedding of each character code, two LSTM layers of 128 units
returning their whole sequence, and one logit per character of the vocabulary at every step, predicting the
next character. As DeepOBS' DropoutWrapper (keep probability 0.8 on each LSTM layer's input and output),
dropout of `dropout` is applied before and after each LSTM layer, drawn anew at every step, in training only.
The embedding has `embedding` = 128 dimensions, DeepOBS' LSTM width, initialised as TensorFlow 1's
variables were (Glorot uniform).

Where it differs from DeepOBS: each sequence starts from a zero LSTM state. DeepOBS carries the state from one
batch to the next, its batches being consecutive stretches of the book; the loop here shuffles the examples
every epoch (trainer/loop/batching.py), so there is no previous stretch to carry it from. The first
characters of each sequence are predicted with less context, which raises the loss a little. Keras'
recurrent kernels start orthogonal and its biases at zero (TF 1's started Glorot uniform).

Reference: F. Schneider, L. Balles and P. Hennig, "DeepOBS: A Deep Learning Optimizer Benchmark Suite",
ICLR 2019 (tolstoi_char_rnn, deepobs/tensorflow/testproblems/tolstoi_char_rnn.py); A. Karpathy, J. Johnson
and L. Fei-Fei, "Visualizing and Understanding Recurrent Networks", arXiv:1506.02078, 2015.
"""

import keras

from trainer.config.ranges import valid


@valid(classes="int >= 1", embedding="int >= 1", units="each int >= 1", dropout="[0, 1)")
def char_rnn(classes: int = 97, embedding: int = 128, units: list | None = None, dropout: float = 0.2) -> keras.Model:
    layers = [
        keras.Input(shape=(None,), dtype="int32"),  # sequences of character codes, of any length
        keras.layers.Embedding(classes, embedding, embeddings_initializer="glorot_uniform"),
    ]
    for width in units or [128, 128]:
        layers += [
            keras.layers.Dropout(dropout),
            keras.layers.LSTM(width, return_sequences=True),
            keras.layers.Dropout(dropout),
        ]
    layers.append(keras.layers.Dense(classes))  # one logit per character, at every step
    return keras.Sequential(layers, name="char_rnn")
