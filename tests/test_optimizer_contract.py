"""The contract every optimizer YAML in conf/optimizer/ must pass: it instantiates, runs inside the
compiled train loop, converges on Rosenbrock within its stated budget (on the tutorial quadratic at its own
scalar rate: tests/test_cli.py), survives a `get_config` round trip, its slots are saved and restored by a
checkpoint, and each shared option (clipnorm, ..., use_ema, gradient_accumulation_steps) either acts as Keras
documents or is refused at start.
A new optimizer is tested by adding its YAML; it gets the default budget unless it states its own here."""

from dataclasses import dataclass

import keras
import numpy as np
import pytest
import tensorflow as tf
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf
from trainer.plugins.optimizers.lbfgs import LBFGS

import trainer
from tests.conftest import choices
from trainer.config.build import build
from trainer.errors import ConfigError, find_trainer_error
from trainer.loop.build import build_optimizer, build_training
from trainer.loop.step import make_train_step
from trainer.optimizers import ClosureOptimizer, WrappingOptimizer
from trainer.train import train

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
        return [
            f"optimizer.learning_rate={self.learning_rate}",
            f"trainer.steps={self.steps}",
            f"trainer.log_every={self.steps}",
            f"trainer.steps_per_call={self.steps}",
            "trainer.checkpoint_every=null",
            *start,
            *self.extra,
        ]


# Rosenbrock from (-1.2, 1), minimum (1, 1).
ROSENBROCK = {
    "default": Budget(0.001, tolerance=1e-2),
    **{name: Budget(0.1, tolerance=1e-2) for name in ("adadelta", "adagrad", "ftrl", "proximal_adagrad")},
    "yogi": Budget(0.01, tolerance=1e-2),
    # Normalized by a second moment (b2 0.9999) that holds the start's large gradients for ~10^4 steps, its
    # steps stay small: at 0.01 still 0.48 away after 20k steps; at 0.1, 3e-5 (0.05: 3e-3).
    "adopt": Budget(0.1, tolerance=1e-2),
    # Its slow average (beta_3 0.9999) still pushes along the start's gradients: at 0.001, 0.04 away; at 0.01, 2.5e-3.
    "ademamix": Budget(0.01, tolerance=1e-2),
    # d adapts the step to the distance; at the authors' rate 1 it overshoots across the curved valley (0.08 away
    # after 20k steps), at 0.1 it ends 2.6e-4 to 0.028 away as rounding goes: XLA's program or eager ops, and XLA's
    # fusions, which change with the rest of the loop (at 0.001 d cannot grow fast enough: 2.2 away).
    "dadapt_adam": Budget(0.1, tolerance=5e-2),
    # Likewise: at rate 1, 0.8 away after 20k steps; 0.1, 7e-3; 0.01, 3e-7; at 0.001 d hardly grows (2.2 away).
    "prodigy": Budget(0.01, tolerance=1e-2),
    # The uniform average, as above; 400k chaotic steps also amplify rounding: 0.015 to 0.026 measured.
    "schedule_free_adamw": Budget(0.01, steps=400_000, tolerance=5e-2),
    "adafactor": Budget(1.0, tolerance=5e-2),  # relative steps and update clipping: slow along the valley floor
    "lamb": Budget(0.001, tolerance=1e-2, initial=(2.0, 3.0)),
    "sam": Budget(0.001, tolerance=1e-2, extra=("optimizer.rho=0.001",)),  # wider ascents leave the valley floor
    "lbfgs": Budget(1.0, steps=20),
    # No learning rate: its bets grow with the wealth they win, slowly along the valley floor (20k steps: 0.06
    # away; 100k: 3e-3).
    "cocob": Budget(1.0, steps=100_000, tolerance=1e-2),
    # The box |x|, |y| <= 1, whose corner is the minimum; steps of 1 - lr toward its vertices (7e-4 measured).
    "conditional_gradient": Budget(0.999, tolerance=1e-2, extra=("optimizer.lambda_=1.0",)),
    # Steps of at most lr per coordinate while its Hessian estimate (an EMA from 0, no bias correction) grows: at
    # 0.001, 0.05 away after 20k steps; at 0.01, 2.4e-5 (0.003: 2.4e-4; 0.03: 4.5e-6).
    "sophia": Budget(0.01, tolerance=1e-2),
    "swa": Budget(0.001, tolerance=1e-2, extra=("optimizer.start_averaging=15000",)),  # from the start: 0.6 away
}


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
    overrides = [
        "model.names=[a,b]",
        "model.square=[1,2]",
        "model.linear=[1,-1]",
        "model.initial=[3,-2]",
        f"optimizer={name}",
        "optimizer.learning_rate=0.01",
    ]
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


# Each shared option of conf/_shared/optimizer.yaml, as the overrides that set it (a refusal names the first).
SHARED_OPTIONS = {
    "clipnorm": {"clipnorm": 1.0},
    "clipvalue": {"clipvalue": 0.5},
    "global_clipnorm": {"global_clipnorm": 2.0},
    "weight_decay": {"weight_decay": 0.1},
    "use_ema": {"use_ema": True, "ema_momentum": 0.5},  # a momentum at which every step shows in the average
    "ema_overwrite_frequency": {"use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 2},
    "gradient_accumulation_steps": {"gradient_accumulation_steps": 2},
}
UNSET = {
    "clipnorm": None,
    "clipvalue": None,
    "global_clipnorm": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "gradient_accumulation_steps": None,
    "weight_decay": 0.0,
}  # not null: AdamW and Muon refuse it; Keras decays by 0 then
LEARNING_RATE = 0.1
# Slow steps, and SWA's snapshots (after updates 2 and 4), within the run's four steps.
EXTRA = {
    "lookahead": ("optimizer.sync_period=2",),
    "swa": ("optimizer.start_averaging=1", "optimizer.average_period=2"),
}
# Four batches: two accumulated updates, two EMA overwrites. Each batch moves the targets, so the
# accumulated gradients differ.
BATCHES = tf.constant(np.random.default_rng(0).normal(size=(4, 2, 2, 2)), tf.float32)
SCALES = tf.constant([[[1.0, 2.0], [3.0, 0.5]], [[0.25, 1.5], [2.0, 1.0]]])


class TwoMatrices:
    """sum(scale * (v - target)^2) over two 2x2 variables, called like a model on a batch of targets.
    Gradients up to ~12 make every clip act; 2-D variables are Muon's own (it leaves others to AdamW)."""

    def __init__(self):
        self.trainable_variables = [keras.Variable(np.full((2, 2), 2.0, "float32"), name=name) for name in "ab"]

    def __call__(self, targets, training=False):
        return sum(tf.reduce_sum(s * (v - t) ** 2) for s, v, t in zip(SCALES, self.trainable_variables, targets))


def tape_gradients(problem, batch):
    with tf.GradientTape() as tape:
        loss = problem(batch)
    return tape.gradient(loss, problem.trainable_variables)


def sam_gradients(rho):
    """SAM's gradient by hand: the gradient at the point rho along the normalized gradient."""

    def gradients_at(problem, batch):
        gradients = tape_gradients(problem, batch)
        ascent = [rho * g / tf.linalg.global_norm(gradients) for g in gradients]
        for variable, step in zip(problem.trainable_variables, ascent):
            variable.assign_add(step)
        sharp = tape_gradients(problem, batch)
        for variable, step in zip(problem.trainable_variables, ascent):
            variable.assign_sub(step)
        return sharp

    return gradients_at


def clipped(gradients, options):
    """Keras' clipping by hand: clipnorm per tensor, else global_clipnorm, else clipvalue."""
    if "clipnorm" in options:
        return [g * min(1.0, options["clipnorm"] / float(tf.norm(g))) for g in gradients]
    if "global_clipnorm" in options:
        return [g * min(1.0, options["global_clipnorm"] / float(tf.linalg.global_norm(gradients))) for g in gradients]
    if "clipvalue" in options:
        return [tf.clip_by_value(g, -options["clipvalue"], options["clipvalue"]) for g in gradients]
    return gradients


def train_by_hand(optimizer, options, gradients_at=tape_gradients, finalize=None):
    """The final weights of `optimizer`, built without `options`, with the options done by hand around its
    `apply` as Keras documents them: the mean of k gradients every k-th batch, clipping, v -= v wd lr before
    the update, and the moving average of the weights after each update (momentum 0 at the first)."""
    problem = TwoMatrices()
    variables = problem.trainable_variables
    optimizer.build(variables)
    accumulated, average, updates = [], None, 0
    for batch in BATCHES:
        gradients = gradients_at(problem, batch)
        k = options.get("gradient_accumulation_steps")
        if k:
            accumulated.append(gradients)
            if len(accumulated) < k:
                continue
            gradients, accumulated = [sum(g) / k for g in zip(*accumulated)], []
        gradients = clipped(gradients, options)
        if "weight_decay" in options:
            for variable in variables:
                variable.assign_sub(variable * options["weight_decay"] * LEARNING_RATE)
        optimizer.apply(gradients, variables)
        updates += 1
        if options.get("use_ema"):
            weights, momentum = [v.numpy() for v in variables], options["ema_momentum"]
            average = (
                weights if average is None else [momentum * a + (1 - momentum) * w for a, w in zip(average, weights)]
            )
            frequency = options.get("ema_overwrite_frequency")
            if frequency and updates % frequency == 0:
                for variable, value in zip(variables, average):
                    variable.assign(value)
    if average is not None:
        for variable, value in zip(variables, average):
            variable.assign(value)
    else:
        (finalize or optimizer).finalize_variable_values(variables)
    return [v.numpy() for v in variables]


def train_with(optimizer):
    """The final weights of `optimizer` stepped by the trainer's own train step, built before and finalized
    after as the trainer does. Eagerly: the same Keras code as compiled, without a trace per table cell."""
    problem = TwoMatrices()
    optimizer.build(problem.trainable_variables)
    train_step = make_train_step(problem, lambda targets, loss: loss, optimizer, metrics={})
    for batch in BATCHES:
        train_step(batch, None)
    optimizer.finalize_variable_values(problem.trainable_variables)
    return [v.numpy() for v in problem.trainable_variables]


def compose_optimizer(make_config, name, key, options):
    """The optimizer node of `optimizer=name`, with `options` set under `key` (the optimizer or its inner one)."""
    overrides = [f"++{key}.{option}={str(value).lower()}" for option, value in options.items()]
    return make_config(
        f"optimizer={name}", f"++optimizer.learning_rate={LEARNING_RATE}", *EXTRA.get(name, ()), *overrides
    ).optimizer


def refusal(node) -> str:
    """The one-line ConfigError that building `node` raises."""
    with pytest.raises(Exception) as raised:
        instantiate(node)
    error = find_trainer_error(raised.value)
    assert isinstance(error, ConfigError), raised.value
    assert "\n" not in str(error)
    return str(error)


def takes_shared_options(node) -> bool:
    """Closure optimizers step without Keras' apply(), wrappers through their inner one's: they refuse them."""
    return not issubclass(get_class(node._target_), (ClosureOptimizer, WrappingOptimizer))


@pytest.mark.parametrize("option", SHARED_OPTIONS)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_shared_option_acts_as_keras_documents_or_is_refused(make_config, name, option):
    options = SHARED_OPTIONS[option]
    node = compose_optimizer(make_config, name, "optimizer", options)
    if not takes_shared_options(node):
        message, first = refusal(node), next(iter(options))
        assert message.startswith(f"optimizer.{first}=") and f" {name} " in message, message
        if issubclass(get_class(node._target_), WrappingOptimizer):
            assert f"set it on the inner optimizer: optimizer.optimizer.{first}=" in message
        return
    reference = instantiate(OmegaConf.merge(node, {key: UNSET[key] for key in options}))

    np.testing.assert_allclose(train_with(instantiate(node)), train_by_hand(reference, options), rtol=0, atol=1e-6)


@pytest.mark.parametrize("option", SHARED_OPTIONS)
@pytest.mark.parametrize("name", ["sam", "lookahead", "swa"])
def test_a_wrappers_inner_optimizer_takes_the_shared_options(make_config, name, option):
    options = SHARED_OPTIONS[option]
    node = compose_optimizer(make_config, name, "optimizer.optimizer", options)
    # Lookahead's slow steps move the weights after the inner average; SWA's average replaces it at the end.
    if name in ("lookahead", "swa") and options.get("use_ema"):
        assert refusal(node).startswith(f"optimizer.optimizer.use_ema=true: {name} ")
        return
    reference = instantiate(OmegaConf.merge(node, {"optimizer": {key: UNSET[key] for key in options}}))
    if name == "sam":
        expected = train_by_hand(reference.inner_optimizer, options, sam_gradients(reference.rho), finalize=reference)
    else:
        expected = train_by_hand(reference, options)

    np.testing.assert_allclose(train_with(instantiate(node)), expected, rtol=0, atol=1e-6)


def test_the_users_lbfgs_with_ema_is_refused_in_one_line_everywhere(make_config):
    """`python -m trainer model=rosenbrock optimizer=lbfgs +optimizer.use_ema=true` ended at x=0, y=0: L-BFGS
    never updated the average that ended training. It is refused at start, by the CLI's train, by
    trainer.minimize and by the class itself."""
    message = r"^optimizer.use_ema=true: lbfgs steps in apply_closure, [^\n]*choose a gradient optimizer"
    with pytest.raises(ConfigError, match=message):
        train(make_config("model=rosenbrock", "optimizer=lbfgs", "+optimizer.use_ema=true"))
    x = tf.Variable(1.0)
    with pytest.raises(ConfigError, match=message):
        trainer.minimize(lambda: x * x, [x], optimizer="lbfgs", use_ema=True)
    with pytest.raises(ConfigError, match=message):
        LBFGS(use_ema=True)


def test_sam_with_its_inner_optimizers_ema_ends_on_the_average_of_its_path(make_config):
    metrics = train(make_config("optimizer=sam", "optimizer.optimizer.use_ema=true"))

    assert metrics["distance_to_minimum"] < 2e-2  # not at the never-updated average's zeros, 0.25 away


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


# Settings each optimizer is saved with where its defaults would leave something of its state or config out.
SAVED_WITH = {
    "novograd": ("optimizer.amsgrad=true", "optimizer.moment_weight_decay=0.01"),
    "lazy_adam": ("schedule=triangular2", "schedule.initial_learning_rate=1e-4", "optimizer.learning_rate=0.01",
                  "schedule.step_size=2"),  # a learning-rate schedule of TFA's, serialized with it
    "proximal_adagrad": ("optimizer.learning_rate=0.01", "optimizer.l1_regularization_strength=0.001"),
    "conditional_gradient": ("optimizer.lambda_=10.0", "optimizer.ord=nuclear"),
    "cocob": ("optimizer.alpha=50.0",),
    "soap": ("optimizer.learning_rate=0.01",),
    "swa": ("optimizer@optimizer.optimizer=adam", "optimizer.optimizer.learning_rate=0.01",
            "optimizer.start_averaging=1", "optimizer.average_period=2"),
    "newton": ("optimizer.damping=1.0",),  # a ReLU network's Hessian is singular
}  # fmt: skip


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_saved_with_a_keras_model_it_reloads_with_its_state(make_config, tmp_path, name):
    cfg = make_config(f"optimizer={name}", *SAVED_WITH.get(name, ()))
    fit_save_and_reload(build_optimizer(cfg, build(cfg.schedule, "schedule") if cfg.schedule else None), tmp_path)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_an_integer_learning_rate_works(make_config, name):
    run = build_training(make_config(f"optimizer={name}", "optimizer.learning_rate=1", "trainer.jit_compile=false"))

    assert float(run.optimizer.learning_rate) == 1.0
    run.train_loop(tf.constant(2, tf.int64))
    assert int(run.global_step.numpy()) == 2


def fit_save_and_reload(optimizer, tmp_path) -> None:
    """An MLP compiled with `optimizer` trains 4 steps in Keras' own `fit` (a closure optimizer, which `fit`
    cannot step, in the trainer's train step), is saved as .keras and loaded back with the same weights and
    the same optimizer: its class, config, iterations and every variable."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8)).astype("float32"), rng.integers(0, 3, size=64)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.copy() for w in model.get_weights()]
    if isinstance(optimizer, ClosureOptimizer):
        optimizer.build(model.trainable_variables)
        train_step = tf.function(make_train_step(model, model.loss, optimizer, metrics={}))
        for start in range(0, 64, 16):
            train_step(x[start : start + 16], y[start : start + 16])
    else:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")

    loaded = keras.models.load_model(tmp_path / "model.keras")

    assert int(model.optimizer.iterations.numpy()) == 4 and int(loaded.optimizer.iterations.numpy()) == 4
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for restored, saved in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())
    assert any(not np.array_equal(b, a) for b, a in zip(before, model.get_weights()))  # it trained
    for restored, saved in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(restored, saved)
