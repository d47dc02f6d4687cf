"""The scalar test problems of conf/model/: each has the minimum its YAML states (the objective's value there,
a zero gradient), and L-BFGS reaches it from the YAML's start, except on the problems whose local minima
no local method is guaranteed to escape (Rastrigin, Ackley), or whose gradients are noisy (the noisy quadratic),
which say so."""

import math
import sys

import numpy as np
import pytest
import tensorflow as tf
from hydra.utils import instantiate

from trainer.train import train

# name: the objective's value at each stated minimum (from the references in each plugin's docstring)
MINIMA = {
    "beale": 0.0,
    "booth": 0.0,
    "himmelblau": 0.0,
    "branin": 0.397887,
    "rastrigin": 0.0,
    "ackley": 0.0,
    "styblinski_tang": 2 * -39.16617,
    "ill_conditioned_quadratic": 0.0,
    "quadratic": 2.875,
    "rosenbrock": 0.0,
    "noisy_quadratic": 0.0,
    "quadratic_deep": 84.76965,  # 0.5 tr(Q S) over DeepOBS' samples (plugins/models/quadratic_deep.py)
}
NO_GUARANTEE = ("rastrigin", "ackley", "noisy_quadratic", "quadratic_deep")


@pytest.mark.parametrize("name", MINIMA)
def test_the_stated_minima_are_minima(make_config, name):
    problem = instantiate(make_config(f"model={name}").model)
    for point in problem.minima:
        for variable, value in zip(problem.named_variables.values(), point):
            variable.assign(value)
        with tf.GradientTape() as tape:
            value = problem()
        gradient = tape.gradient(value, list(problem.named_variables.values()))
        assert float(value) == pytest.approx(MINIMA[name], abs=1e-4)
        assert np.abs(np.array(gradient)).max() < 1e-3


@pytest.mark.parametrize("name", [name for name in MINIMA if name not in NO_GUARANTEE])
def test_lbfgs_reaches_the_minimum_from_the_yamls_start(make_config, name):
    metrics = train(make_config(f"model={name}", "optimizer=lbfgs", "trainer.steps=50", "logging.pictures=false"))

    assert metrics["distance_to_minimum"] < 1e-4
    assert metrics["objective"] == pytest.approx(MINIMA[name], abs=1e-4)


@pytest.mark.parametrize("name", NO_GUARANTEE)
def test_problems_without_a_guarantee_say_so_and_lbfgs_still_descends(make_config, name):
    problem = instantiate(make_config(f"model={name}").model)
    start = float(problem())
    steps = 5 if "quadratic" in name else 50  # noise keeps every line search at its most evaluations
    metrics = train(make_config(f"model={name}", "optimizer=lbfgs", f"trainer.steps={steps}", "logging.pictures=false"))

    assert "no local method is guaranteed" in " ".join(sys.modules[type(problem).__module__].__doc__.split())
    assert math.isfinite(metrics["objective"]) and metrics["objective"] < start
