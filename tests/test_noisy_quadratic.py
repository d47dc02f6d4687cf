"""The noisy quadratic: unbiased gradients of the stated noise scale in training, none in evaluation (what
the report, the landscape and the gradient check see), the same noise for the same seed, and a resumed
run that ends where an uninterrupted one does."""

import numpy as np
import pytest
from hydra.utils import instantiate

from tests.conftest import sampled_gradients
from trainer.config.compose import compose_config
from trainer.gradcheck import gradient_check
from trainer.outputs.pictures import objective_at
from trainer.train import train


def noisy_quadratic(make_config, *overrides):
    return instantiate(make_config("model=noisy_quadratic", *overrides).model)


def test_training_gradients_are_unbiased_with_the_stated_noise_scale(make_config):
    problem = noisy_quadratic(make_config, "model.noise_scale=0.5")
    samples = sampled_gradients(problem, 200)
    exact = np.array(problem.curvatures) * np.array(list(problem.values().values()))

    np.testing.assert_allclose(samples.mean(axis=0), exact, atol=4 * 0.5 / np.sqrt(200))
    np.testing.assert_allclose(samples.std(axis=0), 0.5, rtol=0.2)
    assert int(problem.evaluations.numpy()) == 200


def test_the_noise_is_keyed_by_the_seed_and_the_evaluation_count(make_config):
    first, again = (sampled_gradients(noisy_quadratic(make_config, "trainer.seed=3"), 5) for _ in range(2))
    other = sampled_gradients(noisy_quadratic(make_config, "trainer.seed=4"), 5)

    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert len({tuple(row) for row in first}) == 5


def test_evaluation_the_landscape_and_the_gradient_check_see_the_expected_objective(make_config):
    problem = noisy_quadratic(make_config)
    expected = sum(h * v * v / 2 for h, v in zip(problem.curvatures, problem.values().values()))

    assert float(problem()) == pytest.approx(expected) == float(problem(training=False))
    assert float(problem(training=True)) != pytest.approx(expected)
    assert objective_at(problem, np.array([[1.0, 1.0], [0.0, 0.0]])) == pytest.approx([expected, 0.0])
    errors = gradient_check(compose_config("model=noisy_quadratic", "output_dir=unused", config_name="gradcheck"))
    assert errors and max(errors.values()) < 1e-5


def test_a_resumed_run_draws_the_noise_an_uninterrupted_one_does(make_config, tmp_path):
    settings = [
        "model=noisy_quadratic",
        "optimizer=sgd",
        "trainer.deterministic=true",
        "logging.pictures=false",
        "trainer.checkpoint_every=10",
    ]
    whole = train(make_config(*settings, "trainer.steps=20", f"output_dir={tmp_path / 'whole'}"))
    train(make_config(*settings, "trainer.steps=10", f"output_dir={tmp_path / 'resumed'}"))
    resumed = train(make_config(*settings, "trainer.steps=20", f"output_dir={tmp_path / 'resumed'}"))

    assert resumed["variables"] == whole["variables"] and resumed["steps"] == 20
