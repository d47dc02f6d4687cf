"""Learning-rate schedules: the rate logged at every logged step is the schedule's formula, by hand."""

import math

import pytest

from tests.conftest import read_scalars
from trainer.train import train


def logged_rates(make_config, tmp_path, *overrides) -> dict[int, float]:
    train(make_config("trainer.steps=200", "trainer.log_every=10", *overrides))
    return dict(read_scalars(tmp_path / "run")["train/learning_rate"])


def test_constant_is_the_optimizers_rate(make_config, tmp_path):
    rates = logged_rates(make_config, tmp_path, "optimizer.learning_rate=0.05")
    assert rates == {step: pytest.approx(0.05) for step in range(10, 201, 10)}


def test_exponential_decay(make_config, tmp_path):
    rates = logged_rates(make_config, tmp_path, "schedule=exponential_decay")
    assert rates == {step: pytest.approx(0.1 * 0.5 ** (step / 100)) for step in range(10, 201, 10)}


def test_cosine_decay_with_linear_warmup(make_config, tmp_path):
    rates = logged_rates(
        make_config, tmp_path, "schedule=cosine_decay", "schedule.warmup_steps=50", "schedule.decay_steps=150"
    )

    def expected(step):
        if step < 50:
            return 0.1 * step / 50
        return 0.1 * 0.5 * (1 + math.cos(math.pi * (step - 50) / 150))

    assert rates == {step: pytest.approx(expected(step), abs=1e-7) for step in range(10, 201, 10)}


def test_piecewise_constant(make_config, tmp_path):
    rates = logged_rates(make_config, tmp_path, "schedule=piecewise_constant", "schedule.boundaries=[50,120]")
    assert rates == {
        step: pytest.approx(0.1 if step <= 50 else 0.01 if step <= 120 else 0.001) for step in range(10, 201, 10)
    }


def test_reduce_on_plateau_halves_the_rate_once_the_loss_stops_improving(make_config, tmp_path):
    rates = logged_rates(make_config, tmp_path, "schedule=reduce_on_plateau", "schedule.patience=3")
    losses = dict(read_scalars(tmp_path / "run")["train/loss"])
    steps = sorted(rates)
    changes = [after for before, after in zip(steps, steps[1:]) if rates[after] != pytest.approx(rates[before])]

    assert rates[10] == pytest.approx(0.1) and changes
    for step in changes:
        assert rates[step] == pytest.approx(rates[step - 10] * 0.5)
    first = changes[0]  # decided at the previous point, after 3 windows that improved the best loss by < 1e-4
    best_before = min(losses[s] for s in steps if s <= first - 40)
    assert min(losses[s] for s in (first - 30, first - 20, first - 10)) > best_before - 1e-4


def test_reduce_on_plateau_resumes_bit_for_bit(make_config, tmp_path):
    """Its counters (wait, best, cooldown) are checkpointed: stopped and resumed between two reductions, the
    run reduces the rate at the same steps and ends with the same weights as one left alone."""
    plateau = [
        "model=rosenbrock",
        "optimizer=adam",
        "optimizer.learning_rate=0.02",
        "schedule=reduce_on_plateau",
        "schedule.patience=2",
        "schedule.min_delta=0.1",
        "trainer.log_every=10",
        "trainer.deterministic=true",
    ]
    whole = train(make_config(*plateau, "trainer.steps=400", f"output_dir={tmp_path / 'whole'}"))
    train(make_config(*plateau, "trainer.steps=170", f"output_dir={tmp_path / 'split'}"))
    resumed = train(make_config(*plateau, "trainer.steps=400", f"output_dir={tmp_path / 'split'}"))

    rates = [rate for _, rate in read_scalars(tmp_path / "whole")["train/learning_rate"]]
    assert len(set(rates[:17])) > 1 and len(set(rates[17:])) > 1  # reductions before and after the stop
    assert resumed["variables"] == whole["variables"]
    assert dict(read_scalars(tmp_path / "split")["train/learning_rate"]) == dict(
        read_scalars(tmp_path / "whole")["train/learning_rate"]
    )


def test_an_integer_initial_rate_is_taken_as_a_float(make_config):
    from trainer.loop.build import build_training

    run = build_training(
        make_config("schedule=exponential_decay", "schedule.initial_learning_rate=1", "schedule.decay_steps=10")
    )

    assert float(run.optimizer.learning_rate) == pytest.approx(1.0)  # an integer rate would decay as integers
