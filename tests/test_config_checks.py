"""Every key of every section is checked at start, and values are taken in the type their plugin expects:
integers where a float is due (`optimizer.learning_rate=1`) become floats, for every optimizer."""

import pytest
import tensorflow as tf

from tests.test_configs import choices
from trainer.loop.build import build_training


@pytest.mark.parametrize("name", choices("optimizer"))
def test_an_integer_learning_rate_works_for_every_optimizer(make_config, name):
    run = build_training(make_config(f"optimizer={name}", "optimizer.learning_rate=1"))

    assert float(run.optimizer.learning_rate) == 1.0
    run.train_loop(tf.constant(2, tf.int64))
    assert int(run.global_step.numpy()) == 2


def test_an_integer_initial_rate_of_a_schedule_is_a_float(make_config):
    run = build_training(
        make_config("schedule=exponential_decay", "schedule.initial_learning_rate=1", "schedule.decay_steps=10")
    )

    assert float(run.optimizer.learning_rate) == pytest.approx(1.0)  # an integer rate would decay as integers
