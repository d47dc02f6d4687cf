"""On scalar problems (the default task) each optimizer steps at a rate that suits it: its own, or the one
in conf/_learning_rate/scalar/ where its own does not. Every choice ends close to the default run's minimum;
the command line, experiments that set a rate, networks and trainer.minimize keep theirs."""

import pytest

from tests.test_configs import choices
from trainer.api import optimizer_from_config
from trainer.loop.build import build_training
from trainer.train import train

FAST = ("trainer.checkpoint_every=null", "logging.pictures=false", "logging.graph=false")
TOLERANCE = 1e-3
# Optimizers that settle farther from the minimum at any learning rate, and why.
SETTLES_AWAY = {
    "lion": 2e-2,  # sign steps of exactly lr = 0.01: it hovers about lr away
    "schedule_free_adamw": 0.1,  # ends on the average of all its iterates, whose start fades only as 1/steps
    "lamb": 0.25 + 1e-3,  # steps in proportion to |x|: from x = 5 it stops at 0, 0.25 short
}


@pytest.mark.parametrize("name", choices("optimizer"))
def test_every_optimizer_reaches_the_default_runs_minimum(make_config, name):
    metrics = train(make_config(f"optimizer={name}", *FAST))

    assert metrics["distance_to_minimum"] < SETTLES_AWAY.get(name, TOLERANCE)


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
