"""Seeded starts of the deterministic scalar problems (trainer/scalar.py): seed 0 starts exactly at the YAML's
`initial`, every other seed at initial + start_spread * N(0, 1) drawn by `numpy.random.default_rng(seed)`, so
that the seeds of a comparison run different paths; a run, fresh or reusing another's program, starts there."""

import json

import numpy as np
import pytest

from trainer.config.build import build
from trainer.config.checks import check_config
from trainer.errors import ConfigError
from trainer.files import load_yaml
from trainer.loop.reuse import REUSABLE, resolved_config, structure
from trainer.outputs.events import read_path
from trainer.train import train

PROBLEMS = (
    "quadratic",
    "rosenbrock",
    "beale",
    "booth",
    "himmelblau",
    "branin",
    "rastrigin",
    "ackley",
    "styblinski_tang",
    "ill_conditioned_quadratic",
)


def problem_of(make_config, *overrides: str):
    cfg = make_config(*overrides)
    return cfg, build(cfg.model, "model")


def yaml_start(cfg) -> np.ndarray:
    """The YAML's `initial`, one value per variable, as the variables hold it (float32)."""
    initial = cfg.model.initial
    return np.float32([initial] * cfg.model.dimensions if "dimensions" in cfg.model else list(initial))


@pytest.mark.parametrize("name", PROBLEMS)
def test_seed_zero_starts_at_the_yamls_initial_and_other_seeds_around_it(make_config, name):
    cfg, problem = problem_of(make_config, f"model={name}")
    initial, spread = yaml_start(cfg), cfg.model.start_spread
    assert spread > 0
    assert np.array_equal(np.float32(list(problem.values().values())), initial)

    starts = [
        np.array(list(problem_of(make_config, f"model={name}", f"trainer.seed={s}")[1].values().values()))
        for s in (1, 2)
    ]
    assert np.all(starts[0] != initial) and np.all(starts[1] != initial)  # every variable moves
    assert not np.array_equal(starts[0], starts[1])
    for start in starts:
        assert np.all(np.abs(start - initial) < 5 * spread)


def test_the_start_is_drawn_by_numpys_generator_in_the_variables_order(make_config):
    _, problem = problem_of(make_config, "model=rosenbrock", "trainer.seed=7", "model.start_spread=0.25")
    expected = np.array([-1.2, 1.0]) + 0.25 * np.random.default_rng(7).standard_normal(2)
    assert list(problem.values()) == ["x", "y"]
    assert np.array_equal(np.float32(list(problem.values().values())), np.float32(expected))


def test_the_noisy_quadratics_seed_keys_its_noise_not_its_start(make_config):
    cfg, problem = problem_of(make_config, "model=noisy_quadratic", "trainer.seed=3")
    assert all(value == cfg.model.initial for value in problem.values().values())


def test_a_negative_spread_is_refused(make_config):
    with pytest.raises(ConfigError, match="model.start_spread must be a number >= 0"):
        check_config(make_config("model=booth", "model.start_spread=-1.0"))


def run(make_config, tmp_path, directory: str, seed: int) -> tuple[dict, np.ndarray]:
    """A short SGD run of the quadratic 2x^2 + x + 3 at `seed`: its metrics and its logged path."""
    overrides = ("model=quadratic", "optimizer.learning_rate=0.1", "trainer.steps=3", "trainer.log_every=1")
    train(
        make_config(
            *overrides, "trainer.deterministic=true", f"trainer.seed={seed}", f"output_dir={tmp_path / directory}"
        )
    )
    metrics = json.loads((tmp_path / directory / "metrics.json").read_text())
    return metrics, read_path(tmp_path / directory, ["x"])[:, 0]


def test_a_run_starts_at_its_seeds_start_and_descends_from_there(make_config, tmp_path):
    REUSABLE.clear()
    start = 5.0 + 0.5 * np.random.default_rng(3).standard_normal()
    metrics, path = run(make_config, tmp_path, "run", seed=3)

    assert path[0] == np.float32(start) and len(path) == 4
    expected = start
    for _ in range(3):
        expected -= 0.1 * (4 * expected + 1)  # SGD on 2x^2 + x + 3
    assert metrics["variables"]["x"] == pytest.approx(expected, rel=1e-5)
    assert metrics["distance_to_minimum"] == pytest.approx(abs(expected + 0.25), rel=1e-5)


def test_a_reused_run_starts_where_a_fresh_run_of_its_seed_does(make_config, tmp_path):
    keys = [structure(resolved_config(make_config("model=rosenbrock", f"trainer.seed={seed}"))) for seed in (1, 2)]
    assert keys[0] == keys[1]

    REUSABLE.clear()
    run(make_config, tmp_path, "first", seed=1)
    reused = run(make_config, tmp_path, "reused", seed=2)
    assert len(REUSABLE.runs) == 1  # the second took the first's program
    recorded = load_yaml(tmp_path / "reused" / "checkpoints" / "config.yaml")  # its own config, not the first's
    assert (recorded["trainer"]["seed"], recorded["output_dir"]) == (2, str(tmp_path / "reused"))
    REUSABLE.clear()
    afresh = run(make_config, tmp_path, "afresh", seed=2)

    assert reused[1][0] == afresh[1][0] != np.float32(5.0)
    assert np.array_equal(reused[1], afresh[1])
    # The loss mean, a float32 sum of each step's loss, sometimes differs in its last bit between fresh builds
    # (as in tests/test_reuse.py); the path and every number computed from the variables do not.
    assert {k: v for k, v in reused[0].items() if k != "loss"} == {k: v for k, v in afresh[0].items() if k != "loss"}
    assert reused[0]["loss"] == pytest.approx(afresh[0]["loss"], rel=1e-6)
