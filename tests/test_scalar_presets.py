"""On scalar problems (the default task) each optimizer steps at a rate that suits it: its own, or the one
in conf/_learning_rate/scalar/ where its own does not (that every choice then ends close to the default run's
minimum is tests/test_cli.py's); the command line, experiments that set a rate, networks and trainer.minimize
keep theirs."""

import pytest

from trainer.api import optimizer_from_config
from trainer.loop.build import build_training

FAST = ("trainer.checkpoint_every=null",)


@pytest.mark.parametrize("name", ["lbfgs", "newton"])
def test_second_order_optimizers_take_their_own_full_step(make_config, name):
    assert float(build_training(make_config(f"optimizer={name}", *FAST)).optimizer.learning_rate) == 1.0


@pytest.mark.parametrize(
    "overrides, learning_rate",
    [
        (["optimizer=sgd"], 0.1),  # the README's default run
        (["optimizer=adam"], 0.1),  # conf/_learning_rate/scalar/adam.yaml
        (["optimizer=adam", "optimizer.learning_rate=0.5"], 0.5),  # the command line wins
        (["experiment=rosenbrock"], 0.02),  # Adam at Rosenbrock's own rate
        (["experiment=mnist", "optimizer=sgd"], 0.003),  # the MNIST preset's rate, for any optimizer
        (["task=classification", "optimizer=adam"], 0.001),  # networks: the optimizer's own rate
    ],
)
def test_the_command_line_and_the_other_experiments_keep_their_rates(make_config, overrides, learning_rate):
    assert make_config(*overrides).optimizer.learning_rate == learning_rate


def test_minimize_takes_the_optimizers_own_rate_not_the_presets():
    assert float(optimizer_from_config("adam").learning_rate) == pytest.approx(0.001)
