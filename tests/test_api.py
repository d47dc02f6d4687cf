"""trainer.minimize, the notebook API: the tutorials' optimizer.minimize(loss_fn, var_list) back."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainer
from trainer.errors import ConfigError


def test_minimize_the_tutorial_quadratic_with_sgd_by_name():
    x = tf.Variable(5.0)
    history = trainer.minimize(lambda: 2 * x * x + x + 3, [x], optimizer="sgd", steps=100, learning_rate=0.1)

    assert history.shape == (100,)
    assert history[0] == pytest.approx(58.0)  # f(5), before the first step
    assert history[1] == pytest.approx(2 * 2.9**2 + 2.9 + 3)  # after x <- 5 - 0.1 * 21 = 2.9
    assert x.numpy() == pytest.approx(-0.25, abs=1e-6)
    assert np.all(np.diff(history) <= 0)


def test_minimize_two_variables_with_adam_and_its_hyperparameters():
    a, b = tf.Variable(3.0), tf.Variable(-2.0)
    trainer.minimize(lambda: a * a + 2 * b * b, [a, b], optimizer="adam", steps=1000, learning_rate=0.1, beta_1=0.8)

    assert (a.numpy(), b.numpy()) == (pytest.approx(0.0, abs=1e-4), pytest.approx(0.0, abs=1e-4))


def test_minimize_with_newton_takes_one_step_to_a_quadratics_minimum():
    x = tf.Variable(5.0)
    history = trainer.minimize(lambda: 3 * x * x + 2 * x - 1, [x], optimizer="newton", steps=1)

    assert x.numpy() == pytest.approx(-1 / 3, abs=1e-6)
    assert history.tolist() == [pytest.approx(84.0)]


def test_minimize_with_a_keras_optimizer_instance_and_without_xla():
    x = tf.Variable(5.0)
    trainer.minimize(lambda: (x - 1.0) ** 2, [x], optimizer=keras.optimizers.SGD(0.1), steps=200, jit_compile=False)

    assert x.numpy() == pytest.approx(1.0, abs=1e-5)


def test_minimize_names_an_unknown_hyperparameter():
    x = tf.Variable(5.0)
    with pytest.raises(ConfigError, match=r"optimizer.betaa is not an argument of keras.optimizers.Adam"):
        trainer.minimize(lambda: x * x, [x], optimizer="adam", betaa=0.9)


def test_minimize_in_a_learning_rate_scan_does_not_warn_of_retracing(caplog):
    """A notebook's scan calls minimize with a new variable and function each time: each call traces its
    own loop, which TensorFlow must not report as excessive retracing."""
    finals = []
    with caplog.at_level("WARNING", logger="tensorflow"):
        for learning_rate in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4):
            x = tf.Variable(5.0)
            trainer.minimize(lambda: 2 * x * x + x + 3, [x], optimizer="sgd", steps=50, learning_rate=learning_rate)
            finals.append(float(x.numpy()))

    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
    assert finals[-1] == pytest.approx(-0.25, abs=1e-6) and abs(finals[0] + 0.25) > 0.1  # each at its own rate


@pytest.mark.parametrize("name", ["sgd", "adam", "newton", "lbfgs", "sam"])
def test_an_integer_learning_rate_is_taken_as_a_float(name):
    x = tf.Variable(5.0)
    trainer.minimize(lambda: 2 * x * x + x + 3, [x], optimizer=name, steps=2, learning_rate=1)

    assert np.isfinite(x.numpy())
