"""The contract every optimizer YAML in conf/optimizer/ must pass: it instantiates, runs inside the
compiled train loop, converges on a quadratic and on Rosenbrock within its stated budget, survives a
`get_config` round trip, and its slots are saved and restored by a checkpoint. A new optimizer is
tested by adding its YAML; it gets the default budget unless it states its own here."""
from dataclasses import dataclass

import keras
import numpy as np
import pytest
import tensorflow as tf
from hydra.utils import instantiate

from tests.conftest import CONF_DIR
from tests.test_configs import choices
from trainer.train import build_training, train

OPTIMIZERS = choices("optimizer")


@dataclass
class Budget:
    """What an optimizer is allowed: its learning rate, steps, starting point and final distance to the minimum."""

    learning_rate: float
    steps: int = 20_000
    tolerance: float = 1e-3
    initial: tuple[float, ...] | None = None  # the problem's own when None
    extra: tuple[str, ...] = ()  # other overrides of the optimizer's hyperparameters

    def overrides(self) -> list[str]:
        start = [f"model.initial=[{','.join(map(str, self.initial))}]"] if self.initial else []
        return [f"optimizer.learning_rate={self.learning_rate}", f"trainer.steps={self.steps}",
                f"trainer.log_every={self.steps}", f"trainer.steps_per_call={self.steps}",
                "trainer.checkpoint_every=null", *start, *self.extra]


# 2x^2 + x + 3 from x = 5, minimum -0.25.
QUADRATIC = {
    "default": Budget(0.1),
    "lion": Budget(0.001),  # sign steps of exactly lr: it hovers lr away from the minimum
    "lamb": Budget(0.001, initial=(-5.0,)),  # steps relative to |x|: it cannot cross 0, so start on the minimum's side
    # Ends on x, the uniform average of every iterate since the start: the start's weight fades as 1/steps.
    "schedule_free_adamw": Budget(0.01, steps=400_000),
    "sam": Budget(0.1, extra=("optimizer.rho=0.001",)),  # its fixed point lies about rho/4 from the minimum
    "lbfgs": Budget(1.0, steps=20),  # up to 20 iterations with a line search in each step
}
# Rosenbrock from (-1.2, 1), minimum (1, 1).
ROSENBROCK = {
    "default": Budget(0.001, tolerance=1e-2),
    **{name: Budget(0.1, tolerance=1e-2) for name in ("adadelta", "adagrad", "ftrl")},
    "yogi": Budget(0.01, tolerance=1e-2),
    # The uniform average, as above; 400k chaotic steps also amplify rounding: 0.015 to 0.026 measured.
    "schedule_free_adamw": Budget(0.01, steps=400_000, tolerance=5e-2),
    "adafactor": Budget(1.0, tolerance=5e-2),  # relative steps and update clipping: slow along the valley floor
    "lamb": Budget(0.001, tolerance=1e-2, initial=(2.0, 3.0)),
    "sam": Budget(0.001, tolerance=1e-2, extra=("optimizer.rho=0.001",)),  # wider ascents leave the valley floor
    "lbfgs": Budget(1.0, steps=20),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_converges_on_the_quadratic_within_budget(make_config, name):
    budget = QUADRATIC.get(name, QUADRATIC["default"])
    metrics = train(make_config(f"optimizer={name}", *budget.overrides()))

    assert metrics["distance_to_minimum"] < budget.tolerance


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_converges_on_rosenbrock_within_budget(make_config, name):
    budget = ROSENBROCK.get(name, ROSENBROCK["default"])
    metrics = train(make_config("model=rosenbrock", f"optimizer={name}", *budget.overrides()))

    assert metrics["distance_to_minimum"] < budget.tolerance


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_get_config_round_trip(make_config, name):
    optimizer = instantiate(make_config(f"optimizer={name}").optimizer)
    config = optimizer.get_config()

    assert type(optimizer).from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(optimizer))
    assert type(restored) is type(optimizer) and restored.get_config() == config


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_checkpoint_saves_and_restores_the_slots(make_config, tmp_path, name):
    overrides = ["model.names=[a,b]", "model.square=[1,2]", "model.linear=[1,-1]", "model.initial=[3,-2]",
                 f"optimizer={name}", "optimizer.learning_rate=0.01"]
    trained = build_training(make_config(*overrides))
    trained.train_loop(tf.constant(5, tf.int64))
    path = tf.train.Checkpoint(model=trained.model, optimizer=trained.optimizer).save(str(tmp_path / "ckpt"))

    fresh = build_training(make_config(*overrides))
    tf.train.Checkpoint(model=fresh.model, optimizer=fresh.optimizer).restore(path).assert_consumed()

    assert int(fresh.optimizer.iterations.numpy()) == 5
    assert len(fresh.optimizer.variables) == len(trained.optimizer.variables)
    for restored, saved in zip(fresh.optimizer.variables, trained.optimizer.variables):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())
    assert fresh.model.values() == trained.model.values()


SHARED_OPTIONS = {"clipnorm": 1.0, "clipvalue": 0.5, "global_clipnorm": 2.0, "weight_decay": 0.1,
                  "use_ema": True, "gradient_accumulation_steps": 2}
WITH_SHARED_OPTIONS = [name for name in OPTIMIZERS if "/_shared/optimizer" in (CONF_DIR / "optimizer" / f"{name}.yaml").read_text()]


@pytest.mark.parametrize("name", WITH_SHARED_OPTIONS)
@pytest.mark.parametrize("option", SHARED_OPTIONS)
def test_every_optimizer_takes_the_shared_options(make_config, name, option):
    value = SHARED_OPTIONS[option]
    optimizer = instantiate(make_config(f"optimizer={name}", f"optimizer.{option}={value}").optimizer)

    assert getattr(optimizer, option) == value


@pytest.mark.parametrize(
    "overrides, steps, expected",
    [  # SGD at 0.1 on 2x^2 + x + 3 from x = 5, where the gradient is 21; by hand:
        (["optimizer.clipnorm=1.0"], 1, 5 - 0.1 * 1.0),
        (["optimizer.clipvalue=0.5"], 1, 5 - 0.1 * 0.5),
        (["optimizer.global_clipnorm=2.0"], 1, 5 - 0.1 * 2.0),
        (["optimizer.weight_decay=0.1"], 1, 5 - 5 * 0.1 * 0.1 - 0.1 * 21),  # decoupled decay, then the step
        (["optimizer.gradient_accumulation_steps=2"], 1, 5.0),  # nothing applied yet
        (["optimizer.gradient_accumulation_steps=2"], 2, 5 - 0.1 * 21),  # the mean of two gradients at 5
    ],
)
def test_shared_options_act_as_keras_documents(make_config, overrides, steps, expected):
    metrics = train(make_config(*overrides, f"trainer.steps={steps}", "trainer.log_every=1"))

    assert metrics["variables"]["x"] == pytest.approx(expected, abs=1e-6)
