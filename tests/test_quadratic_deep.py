"""DeepOBS' quadratic_deep (plugins/models/quadratic_deep.py): the Hessian's spectrum as DeepOBS draws it,
the stated minimum and least value, unbiased mini-batch gradients drawn as DeepOBS' epochs are, keyed by the
seed, and SGD at a stable rate closing most of the gap to the least value in a few hundred steps."""

import numpy as np
import pytest
import tensorflow as tf
from hydra.utils import instantiate

from tests.conftest import sampled_gradients
from trainer.train import train


def quadratic_deep(seed: int = 0):
    from trainer.plugins.models.quadratic_deep import QuadraticDeep

    return QuadraticDeep(batch_size=128, initial=1.0, seed=seed)


@pytest.fixture(scope="module")
def problem():
    return quadratic_deep()


def test_the_hessians_spectrum_is_deepobs(problem):
    rng = np.random.RandomState(42)  # quadratic_deep.py's, drawing the eigenvalues first
    expected = np.concatenate((rng.uniform(0.0, 1.0, 90), rng.uniform(30.0, 60.0, 10)))
    hessian = problem.hessian

    assert hessian.shape == (100, 100)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-12)
    eigenvalues = np.linalg.eigvalsh(hessian)
    np.testing.assert_allclose(eigenvalues, np.sort(expected), rtol=1e-10, atol=1e-10)
    assert eigenvalues.min() > 0 and np.sum(eigenvalues <= 1) == 90 and np.sum(eigenvalues >= 30) == 10


def test_the_objective_is_the_mean_loss_over_deepobs_samples_least_at_their_mean(problem):
    samples = np.random.RandomState(42).normal(0.0, 0.6, (1000, 100)).astype(np.float32).astype(np.float64)
    mean = samples.mean(axis=0)

    def mean_loss(point):
        offsets = point - samples
        return 0.5 * np.mean(np.einsum("ij,jk,ik->i", offsets, problem.hessian, offsets))

    assert float(problem()) == pytest.approx(mean_loss(np.ones(100)), rel=1e-6)  # at DeepOBS' start, theta = 1
    np.testing.assert_allclose(list(problem.minimum.values()), mean)
    assert problem.least == pytest.approx(mean_loss(mean), rel=1e-12)
    assert float(problem.objective(*tf.constant(mean, tf.float32))) == pytest.approx(problem.least, rel=1e-6)


def test_training_gradients_are_unbiased_estimates_of_the_objectives(problem):
    problem.evaluations.assign(0)
    samples = sampled_gradients(problem, 140)  # 20 epochs of 7 batches
    exact = problem.hessian @ (np.ones(100) - np.array(list(problem.minimum.values())))
    standard_errors = samples.std(axis=0) / np.sqrt(len(samples))

    assert np.all(samples.std(axis=0) > 0.1)  # noisy
    assert np.all(np.abs(samples.mean(axis=0) - exact) < 4 * standard_errors)
    assert int(problem.evaluations.numpy()) == 140


def epoch(seed: int, number: int) -> np.ndarray:
    """The sample indices of the 7 batches of epoch `number` under `seed`."""
    problem = quadratic_deep(seed)
    problem.evaluations.assign(7 * number)
    batches = []
    for _ in range(7):
        batches.append(problem.batch_indices().numpy())
        problem.evaluations.assign_add(1)
    return np.stack(batches)


def test_each_epoch_is_a_permutation_cut_into_batches_keyed_by_the_seed():
    first = epoch(3, 0)

    assert first.shape == (7, 128) and len(np.unique(first)) == 7 * 128  # without replacement, 104 left out
    np.testing.assert_array_equal(first, epoch(3, 0))
    assert not np.array_equal(first, epoch(3, 1)) and not np.array_equal(first, epoch(4, 0))


def test_sgd_at_a_stable_rate_closes_most_of_the_gap_to_the_least_value(make_config):
    cfg = make_config("model=quadratic_deep", "optimizer=sgd", "optimizer.learning_rate=0.0125", "trainer.steps=300")
    least = instantiate(cfg.model).least
    metrics = train(cfg)

    # From a gap of 269 at theta = 1; the flat directions alone (eigenvalues near 0) still hold 0.8 after 300
    # steps of full-batch descent at this rate, and the batches' noise adds about 0.2.
    assert 0 < metrics["objective"] - least < 2.0
    assert metrics["steps"] == 300
