"""Training ends as Keras' fit does: the optimizer's final weights (EMA, Schedule-Free's average) replace
the training weights before the test metrics, metrics.json and the model are taken."""

import numpy as np
import pytest
import tensorflow as tf

from trainer.loop.build import build_training
from trainer.train import train


def test_use_ema_ends_on_the_moving_average_of_the_sgd_path(make_config):
    metrics = train(make_config("optimizer.use_ema=true", "optimizer.ema_momentum=0.9", "trainer.steps=30"))

    x, average = 5.0, None  # SGD at 0.1 on 2x^2 + x + 3; Keras' average starts at the first step's value
    for _ in range(30):
        x -= 0.1 * (4 * x + 1)
        average = x if average is None else 0.9 * average + 0.1 * x
    assert metrics["variables"]["x"] == pytest.approx(average, abs=1e-5)
    assert abs(average - x) > 1e-3  # the average lags the path: a real difference to detect


def test_schedule_free_ends_on_its_averaged_sequence(make_config):
    run = build_training(make_config("optimizer=schedule_free_adamw", "optimizer.learning_rate=0.1"))
    run.train_loop(tf.constant(30, tf.int64))
    (variable,) = run.model.trainable_variables
    y, z = variable.numpy(), run.optimizer._momentums[0].numpy()

    run.optimizer.finalize_variable_values(run.model.trainable_variables)

    assert variable.numpy() == pytest.approx((y - 0.1 * z) / 0.9, rel=1e-6)
    assert not np.isclose(variable.numpy(), y)
