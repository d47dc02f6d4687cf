"""Cyclical learning rates (Smith 2017): the rate climbs linearly from a base to a maximum over `step_size`
steps, falls back over as many, and repeats, the height of each triangle scaled by a policy:

    cycle = floor(1 + step / (2 step_size))
    x = |step / step_size - 2 cycle + 1|                     (1 at the base, 0 at the peak)
    lr(step) = initial + (maximal - initial) max(0, 1 - x) scale(cycle or step)

    triangular:   scale = 1                                  (scale_mode "cycle" by default)
    triangular2:  scale = 1 / 2^(cycle - 1)                  (each cycle half as high; "cycle")
    exp_range:    scale = gamma^step                         ("iterations" by default: decays every step)

`scale_mode` says what `scale` is given: the cycle number ("cycle") or the step ("iterations"). These are
TensorFlow Addons' TriangularCyclicalLearningRate, Triangular2CyclicalLearningRate and
ExponentialCyclicalLearningRate (tensorflow_addons/optimizers/cyclical_learning_rate.py) with their
defaults, as Keras 3 schedules. TFA's generic CyclicalLearningRate took any `scale_fn`, a callable that no
config can name and no model file can save: subclass `CyclicalLearningRate` and write `scale` instead.

Reference: L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017, arXiv:1506.01186.
"""

import keras
from keras import ops

from trainer.config.ranges import valid

SCALE_MODES = ("cycle", "iterations")


@valid(
    initial_learning_rate=">= 0",
    maximal_learning_rate="> 0",
    step_size="> 0",
    scale_mode="one of cycle, iterations",
)
class CyclicalLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """The triangle between `initial_learning_rate` and `maximal_learning_rate`, its height scaled by `scale`."""

    def __init__(self, initial_learning_rate, maximal_learning_rate, step_size, scale_mode="cycle"):
        if scale_mode not in SCALE_MODES:
            raise ValueError(f"scale_mode must be one of {', '.join(SCALE_MODES)}; got {scale_mode!r}")
        if step_size <= 0:
            raise ValueError(f"step_size must be > 0; got {step_size}")
        self.initial_learning_rate, self.maximal_learning_rate = initial_learning_rate, maximal_learning_rate
        self.step_size, self.scale_mode = step_size, scale_mode

    def scale(self, x):
        """The triangle's height as a fraction of maximal - initial, given the cycle or the step (as floats)."""
        raise NotImplementedError

    def __call__(self, step):
        initial = ops.convert_to_tensor(self.initial_learning_rate)
        dtype = initial.dtype
        maximal = ops.cast(self.maximal_learning_rate, dtype)
        step_size, step = ops.cast(self.step_size, dtype), ops.cast(step, dtype)
        cycle = ops.floor(1 + step / (2 * step_size))
        x = ops.abs(step / step_size - 2 * cycle + 1)
        scale = self.scale(cycle if self.scale_mode == "cycle" else step)
        return initial + (maximal - initial) * ops.maximum(0, 1 - x) * scale

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "maximal_learning_rate": self.maximal_learning_rate,
            "step_size": self.step_size,
            "scale_mode": self.scale_mode,
        }


@keras.saving.register_keras_serializable(package="trainer")
class TriangularCyclicalLearningRate(CyclicalLearningRate):
    """Smith's "triangular" policy: every cycle the same triangle."""

    def scale(self, x):
        return ops.ones_like(x)


@keras.saving.register_keras_serializable(package="trainer")
class Triangular2CyclicalLearningRate(CyclicalLearningRate):
    """Smith's "triangular2" policy: each cycle's triangle half as high as the one before."""

    def scale(self, x):
        return 1 / ops.power(2.0, x - 1)


@keras.saving.register_keras_serializable(package="trainer")
@valid(gamma="(0, 1]")  # above 1 the triangles would grow without bound
class ExponentialCyclicalLearningRate(CyclicalLearningRate):
    """Smith's "exp_range" policy: the triangle's height decays as gamma^x."""

    def __init__(self, initial_learning_rate, maximal_learning_rate, step_size, scale_mode="iterations", gamma=1.0):
        super().__init__(initial_learning_rate, maximal_learning_rate, step_size, scale_mode)
        self.gamma = gamma

    def scale(self, x):
        return ops.power(ops.cast(self.gamma, x.dtype), x)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}
