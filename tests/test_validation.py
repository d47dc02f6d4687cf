"""Validation during training: a held-out split evaluated every eval_every steps, the best checkpoint by the
monitored metric, and early stopping with patience and minimum improvement, in TensorBoard and metrics.json."""

import pytest
import tensorflow as tf

from tests.conftest import read_scalars
from trainer.train import train


def test_validation_split_is_evaluated_every_epoch_and_the_best_kept(make_config, fake_mnist, tmp_path):
    metrics = train(
        make_config(
            "experiment=mnist",
            f"data.path={fake_mnist}",
            "trainer.epochs=3",
            "trainer.validation_split=0.25",
            "trainer.log_every=2",
        )
    )
    scalars = read_scalars(tmp_path / "run")

    steps_per_epoch = (1024 - 256) // 128  # the last quarter is held out
    assert metrics["steps"] == 3 * steps_per_epoch
    assert [step for step, _ in scalars["val/loss"]] == [6, 12, 18]
    assert {"val/accuracy", "test/accuracy"} <= set(scalars)
    val_losses = dict(scalars["val/loss"])
    assert metrics["val_loss"] == pytest.approx(val_losses[18])
    assert metrics["best_val_loss"] == pytest.approx(min(val_losses.values()))
    assert val_losses[metrics["best_step"]] == pytest.approx(metrics["best_val_loss"])
    assert tf.train.latest_checkpoint(str(tmp_path / "run" / "best")).endswith(f"ckpt-{metrics['best_step']}")


def test_early_stopping_after_patience_passes_without_enough_improvement(make_config, fake_mnist, tmp_path):
    # No improvement can reach min_delta=100: the first pass sets the best, the next two exhaust patience=2.
    metrics = train(
        make_config(
            "experiment=mnist",
            f"data.path={fake_mnist}",
            "trainer.epochs=50",
            "trainer.validation_split=0.25",
            "trainer.eval_every=4",
            "trainer.patience=2",
            "trainer.min_delta=100",
            "trainer.monitor=accuracy",
            "trainer.monitor_mode=max",
        )
    )

    assert metrics["stopped_early_at"] == metrics["steps"] == 12
    assert metrics["best_step"] == 4
    assert [step for step, _ in read_scalars(tmp_path / "run")["val/accuracy"]] == [4, 8, 12]
    assert "test_accuracy" in metrics  # the run still ends with its test evaluation
    scalars = read_scalars(tmp_path / "run")
    assert [step for step, _ in scalars["test/accuracy"]] == [step for step, _ in scalars["final/loss"]] == [12]


def test_restore_best_tests_and_exports_the_best_weights(make_config, fake_mnist, tmp_path):
    import keras
    import numpy as np

    metrics = train(
        make_config(
            "experiment=mnist",
            f"data.path={fake_mnist}",
            "trainer.epochs=4",
            "trainer.validation_split=0.25",
            "trainer.eval_every=2",
            "trainer.restore_best=true",
            "trainer.monitor=accuracy",
            "trainer.monitor_mode=max",
        )
    )
    assert metrics["tested_weights"] == f"best (step {metrics['best_step']})"
    assert metrics["best_step"] < metrics["steps"]  # the first pass at the best accuracy; later ones only equal it
    best_val_loss = dict(read_scalars(tmp_path / "run")["val/loss"])[metrics["best_step"]]

    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    with np.load(fake_mnist) as arrays:
        x, y = arrays["x_train"][-256:] / np.float32(255), arrays["y_train"][-256:]  # the held-out quarter
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model.predict(x, verbose=0))
    assert float(loss) == pytest.approx(best_val_loss, rel=1e-5) != metrics["val_loss"]
