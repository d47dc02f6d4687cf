"""Bases for optimizer plugins that need more than `update_step`.

`ClosureOptimizer` is the train step's one hook for optimizers that evaluate the loss more than once per
step (SAM, Newton): the step hands them `closure`, a function that evaluates the step's batch at the
variables' current values and returns (loss, prediction), with no tape of its own. The step checks for
this once, while tracing, so plain optimizers keep the plain tape step.

`WrappingOptimizer` holds an inner optimizer (any choice of conf/optimizer/) whose learning rate is its own.

Keras implements its base-class options (clipping, weight decay, EMA, gradient accumulation, loss scaling)
in `apply()`. A closure optimizer steps without it, and a wrapper's step is its inner optimizer's `apply()`,
so both refuse these options when constructed, as Keras' own wrapper `LossScaleOptimizer` does, instead of
ignoring them (EMA ignored would even end training on its never-updated zeros).

`present_rows` is what optimizers with lazy sparse updates (LazyAdam, NovoGrad, ...) share: the rows an
`IndexedSlices` gradient touches.
"""

import keras
import tensorflow as tf
from keras import ops

from trainer.errors import ConfigError

# Keras' base-class options and their defaults (keras.optimizers.Optimizer), all implemented by its apply().
KERAS_OPTIONS = {
    "weight_decay": None,
    "clipnorm": None,
    "clipvalue": None,
    "global_clipnorm": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


def refuse_keras_options(options: dict, reason: str, instead: str) -> None:
    """Raise a one-line ConfigError for the first Keras option in `options` set away from its default
    (get_config writes the defaults, so a round trip passes). `instead` may name the option as {key}
    and its value as {value}."""
    for key, default in KERAS_OPTIONS.items():
        if options.get(key, default) != default:
            value = options[key]
            value = "null" if value is None else str(value).lower() if isinstance(value, bool) else value  # as YAML
            raise ConfigError(f"optimizer.{key}={value}: {reason}; {instead.format(key=key, value=value)}")


class ClosureOptimizer(keras.optimizers.Optimizer):
    """An optimizer whose step is `apply_closure(closure, variables)`."""

    def __init__(self, learning_rate, name=None, **kwargs):
        refuse_keras_options(
            kwargs,
            f"{name} steps in apply_closure, not in the Keras apply() that implements this option",
            "leave it unset, or choose a gradient optimizer such as optimizer=adam",
        )
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def apply_closure(self, closure, variables):
        """Take one step and count it in `iterations`; return the loss, prediction and gradients at the
        variables' values before the step."""
        raise NotImplementedError

    def update_step(self, gradient, variable, learning_rate):
        raise TypeError(f"{type(self).__name__} steps with apply_closure, not apply_gradients")


def value_and_gradients(closure, variables):
    """The closure's loss and prediction, and the loss's gradients with respect to `variables`."""
    with tf.GradientTape() as tape:
        loss, prediction = closure()
    return loss, prediction, tape.gradient(loss, variables)


class WrappingOptimizer(keras.optimizers.Optimizer):
    """An optimizer around an inner one, whose step is the inner one's followed by `after_inner_step`.
    Setting `learning_rate` sets the inner one's; its slots are checkpointed and listed in `variables` with
    this optimizer's own. `ema_refused`, where set, says why the inner optimizer's `use_ema` cannot work."""

    ema_refused: str | None = None

    def __init__(self, optimizer, learning_rate=None, name=None, **kwargs):
        refuse_keras_options(
            kwargs,
            f"{name} steps through its inner optimizer's apply(), which implements this option",
            "set it on the inner optimizer: optimizer.optimizer.{key}={value}",
        )
        if optimizer.use_ema and self.ema_refused:
            raise ConfigError(f"optimizer.optimizer.use_ema=true: {name} {self.ema_refused}")
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.inner_optimizer = optimizer
        if learning_rate is not None:
            optimizer.learning_rate = learning_rate

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.inner_optimizer.build(var_list)

    def apply(self, grads, trainable_variables=None):
        if not self.built:  # the base class's apply, replaced here, would build on first use
            self.build(trainable_variables)
        before = ops.copy(self.inner_optimizer.iterations)
        self.inner_optimizer.apply(grads, trainable_variables)
        self.after_inner_step(trainable_variables, before)
        self.iterations.assign_add(1)

    def after_inner_step(self, variables, before):
        """What the wrapper does once the inner optimizer stepped, `before` being its update count until
        then (an update was made where its `iterations` moved past it: not so under gradient accumulation)."""
        raise NotImplementedError

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        config = {**super().get_config(), "optimizer": keras.saving.serialize_keras_object(self.inner_optimizer)}
        del config["learning_rate"]  # the inner optimizer's, kept in its own config
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(config.pop("optimizer"), custom_objects=custom_objects)
        return cls(inner, **config)


def present_rows(gradient):
    """An `IndexedSlices` gradient's rows, each index once with its repeated rows summed (as TF's optimizers
    did), a function that gathers those rows of a variable or slot, and one that makes new values for them
    something `Optimizer.assign` scatters. A dense gradient comes back as it is, with identities."""
    if not isinstance(gradient, tf.IndexedSlices):
        return gradient, (lambda tensor: tensor), (lambda rows: rows)
    indices, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(indices)[0])
    return values, (lambda tensor: tf.gather(tensor, indices)), (lambda rows: tf.IndexedSlices(rows, indices))
