"""Stochastic weight averaging, SWA (Izmailov et al. 2018): an inner optimizer trains as usual while SWA keeps the
uniform average of the weights at regular points of its path; at the end of training the average replaces them.

TensorFlow Addons' `tfa.optimizers.SWA` rule, with n the inner optimizer's updates before this one (0, 1, ...):

    every step:                                       x <- inner_optimizer(x, g)
    if n = start_averaging + k average_period, k >= 0:  a <- (k a + x) / (k + 1)     (a = x at the first)
    at the end (finalize_variable_values):            x <- a, once a has its first snapshot

The inner optimizer is any choice of conf/optimizer/; its `gradient_accumulation_steps` makes n count its updates,
not calls. Defaults are TFA's: start_averaging 0, average_period 10. The paper starts averaging after 75% of the
training budget, at a high constant or cyclical rate, and averages once per epoch or cycle: set start_averaging
and average_period in steps accordingly.

Batch normalization: the moving statistics the model collected belong to the training weights, not to their
average. The paper recomputes them with one pass over the training data after training: `update_batch_norm`.

Deliberate differences from TFA: TFA replaces the weights only when asked (`assign_average_vars`), even before the
first snapshot (with zeros); here Keras' end-of-training hook `finalize_variable_values` does it, which `model.fit`
and this trainer call, and it keeps the weights until there is a snapshot. Training continued after that in the same
process (a second `fit`) starts from the average, as after Keras' EMA; the trainer's last checkpoint is written
before the end, so a run resumed from it for more steps goes on from the training weights and the average so
far. The shared options go on the inner optimizer (trainer/optimizers.py). Its `use_ema` is refused: SWA's
average would replace it at the end.

Reference: P. Izmailov, D. Podoprikhin, T. Garipov, D. Vetrov and A. G. Wilson, "Averaging Weights Leads to Wider
Optima and Better Generalization", UAI 2018, arXiv:1803.05407.
"""

import keras
from keras import ops

from trainer.config.ranges import valid
from trainer.errors import ConfigError
from trainer.optimizers import WrappingOptimizer


@keras.saving.register_keras_serializable(package="trainer")
@valid(start_averaging="int >= 0", average_period="int >= 1")
class SWA(WrappingOptimizer):
    ema_refused = (
        "replaces the weights with its own average at the end, so the inner optimizer's moving average "
        "would be lost; leave it unset: SWA's average is the one kept"
    )

    def __init__(self, optimizer, start_averaging=0, average_period=10, name="swa", **kwargs):
        if start_averaging < 0 or average_period < 1:
            raise ConfigError(
                f"optimizer.start_averaging={start_averaging}, optimizer.average_period="
                f"{average_period}: SWA needs start_averaging >= 0 and average_period >= 1"
            )
        super().__init__(optimizer, name=name, **kwargs)
        self.start_averaging, self.average_period = start_averaging, average_period

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._averages = self.add_optimizer_variables(var_list, "average")

    def after_inner_step(self, variables, before):
        since_start = before - self.start_averaging
        due = ops.logical_and(
            self.inner_optimizer.iterations > before,
            ops.logical_and(since_start >= 0, ops.equal(since_start % self.average_period, 0)),
        )
        snapshots = ops.maximum(ops.floor_divide(since_start, self.average_period), 0)  # k, taken before this one
        for variable in variables:
            average = self._averages[self._get_variable_index(variable)]
            k = ops.cast(snapshots, variable.dtype)
            self.assign(average, ops.where(due, (k * average + variable) / (k + 1), average))

    def finalize_variable_values(self, var_list):
        super().finalize_variable_values(var_list)
        averaged = self.inner_optimizer.iterations > self.start_averaging
        for variable in var_list:
            self.assign(variable, ops.where(averaged, self._averages[self._get_variable_index(variable)], variable))

    def get_config(self):
        return {**super().get_config(), "start_averaging": self.start_averaging, "average_period": self.average_period}


def update_batch_norm(model, batches):
    """Recompute the moving mean and variance of every trainable `BatchNormalization` layer in `model` for its current
    weights: one pass over `batches` in training mode, each layer's statistics the plain average of its batch
    statistics (torch.optim.swa_utils.update_bn's cumulative average). `batches` is an iterable of the model's inputs,
    or of tuples (inputs, targets, ...) whose first element is. Run it eagerly, after the average replaced the
    weights: each layer's `momentum`, a Python number read when it is called, is set per batch and restored after.

    Each batch contributes the variance Keras' layer tracks, the biased one; torch's update_bn averages unbiased
    batch variances. A layer with `trainable=False` keeps its statistics, as Keras' training does."""
    layers = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
    ]
    if not layers:
        return  # no statistics to recompute: spare the pass over the data
    momenta = [layer.momentum for layer in layers]
    for layer in layers:  # as torch: 0 times a non-finite old value would stay non-finite
        layer.moving_mean.assign(ops.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(ops.ones_like(layer.moving_variance))
    try:
        for count, batch in enumerate(batches, start=1):
            for layer in layers:
                layer.momentum = (count - 1) / count
            model(batch[0] if isinstance(batch, (tuple, list)) else batch, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
