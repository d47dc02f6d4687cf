"""Keras callbacks by config: `callbacks=[csv_logger]` writes what `model.fit` with `keras.callbacks.CSVLogger`
writes on the same run: the same columns, one row per epoch, the epoch's mean train loss and metrics."""

import csv

import keras
import numpy as np
import pytest

from tests.conftest import read_scalars
from trainer.train import train

RUN = [
    "experiment=mnist",
    "trainer.epochs=3",
    "trainer.validation_split=0.1",
    "callbacks=[csv_logger]",
    "trainer.jit_compile=false",
]


def rows(path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_csv_logger_writes_fits_columns_and_one_row_per_epoch(make_config, fake_mnist, tmp_path):
    train(make_config(*RUN, f"data.path={fake_mnist}", "trainer.log_every=3"))  # windows across epoch ends
    ours = rows(tmp_path / "run" / "training.csv")

    with np.load(fake_mnist) as arrays:
        x, y = arrays["x_train"] / np.float32(255), arrays["y_train"]
    model = keras.Sequential(
        [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(128, "relu"), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.003),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    model.fit(
        x,
        y,
        batch_size=128,
        epochs=3,
        validation_split=0.1,
        verbose=0,
        callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "fit.csv"))],
    )
    theirs = rows(tmp_path / "fit.csv")

    assert list(ours[0]) == list(theirs[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [row["epoch"] for row in ours] == [row["epoch"] for row in theirs] == ["0", "1", "2"]
    val_losses = [value for _, value in read_scalars(tmp_path / "run")["val/loss"]]
    assert [float(row["val_loss"]) for row in ours] == pytest.approx(val_losses, rel=1e-6)


def test_epoch_means_do_not_depend_on_the_log_windows(make_config, fake_mnist, tmp_path):
    """Windows of 3 steps cross the ends of 7-step epochs; windows of 7 are the epochs themselves."""
    train(make_config(*RUN, f"data.path={fake_mnist}", "trainer.log_every=3", f"output_dir={tmp_path / 'a'}"))
    train(make_config(*RUN, f"data.path={fake_mnist}", "trainer.log_every=7", f"output_dir={tmp_path / 'b'}"))
    across, aligned = rows(tmp_path / "a" / "training.csv"), rows(tmp_path / "b" / "training.csv")

    epoch_losses = [value for _, value in read_scalars(tmp_path / "b")["train/loss"]]  # one window per epoch
    assert [float(row["loss"]) for row in aligned] == pytest.approx(epoch_losses, rel=1e-6)
    for a, b in zip(across, aligned):
        assert {key: float(value) for key, value in a.items()} == pytest.approx(
            {key: float(value) for key, value in b.items()}, rel=1e-5
        )
