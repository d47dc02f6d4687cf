"""Scalar problems: a function of a few named scalar `tf.Variable`s with a known minimum.

Model plugins for scalar minimization subclass `ScalarProblem` and write only `objective`. The trainer
reports the final variables and their distance to `minimum`.

A problem of exact gradients gives every seed the same run unless the seed changes something: with
`seed > 0` and `start_spread > 0`, each variable starts at initial + start_spread * N(0, 1), drawn with
`numpy.random.default_rng(seed)` in the variables' order; seed 0 starts exactly at `initial`.
"""

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from trainer.errors import ConfigError


class ScalarProblem(tf.Module):
    """Named scalar variables and an objective of them; called like a model, it ignores its inputs."""

    # The settings that set only the variables' values (where they start, and a seed the objective reads from
    # a variable, `hold_seed`), never the compiled program: runs that differ in them alone share it
    # (trainer/loop/reuse.py), a reused run's variables set from a fresh build's. A subclass whose objective
    # reads one of them as a number names fewer.
    START_SETTINGS = ("initial", "start_spread", "seed")

    def __init__(
        self,
        names: Sequence[str],
        initial: Sequence[float],
        minimum: Sequence[float],
        other_minima: Sequence[Sequence[float]] = (),
        start_spread: float = 0.0,
        seed: int = 0,
    ):
        super().__init__(name=type(self).__name__)
        if len(names) != len(initial):
            raise ConfigError(f"model.initial has {len(initial)} values for {len(names)} names {list(names)}")
        self.named_variables = {  # in Keras' floatx: float32, or float64 for the gradient check
            name: tf.Variable(float(value), dtype=keras.config.floatx(), name=name)
            for name, value in zip(names, start_point(initial, start_spread, seed))
        }
        self.minimum = dict(zip(names, (float(m) for m in minimum)))  # the one drawn on landscapes
        self.minima = [list(self.minimum.values()), *([float(m) for m in point] for point in other_minima)]

    def hold_seed(self, seed: int) -> tf.Variable:
        """`seed`, which keys a stochastic objective's draws, as a variable its compiled program reads, so that
        runs of other seeds share the program: a reused run takes it from a fresh build with the problem's other
        variables (`tf.Module.variables` lists it although untracked). It is a setting, not state: checkpoints
        leave it out (a resumed run's config gives it again; a checkpoint written before it existed restores)."""
        return self._no_dependency(tf.Variable(int(seed), dtype=tf.int64, trainable=False, name="seed"))

    def objective(self, *values):
        """The value to minimize, given the variables' values in order: scalars while training. Written
        elementwise, as NumPy would, it also takes equal-shaped tensors of many points at once, which is
        how the landscape picture is drawn fast."""
        raise NotImplementedError

    def __call__(self, inputs=None, training=False):
        return self.objective(*self.named_variables.values())

    def values(self) -> dict[str, float]:
        """The variables' current values by name."""
        return {name: float(variable.numpy()) for name, variable in self.named_variables.items()}

    def distance_to_minimum(self) -> float:
        """Euclidean distance from the current variables to the nearest known minimum."""
        return min(math.dist(self.values().values(), point) for point in self.minima)


def start_point(initial: Sequence[float], start_spread: float, seed: int) -> list[float]:
    """`initial`, or with `seed > 0` and `start_spread > 0` each value plus start_spread * N(0, 1), drawn in
    order by `numpy.random.default_rng(seed)`: seed 0, every tutorial's, starts where the YAML says."""
    initial = [float(value) for value in initial]
    if seed <= 0 or start_spread <= 0:
        return initial
    noise = np.random.default_rng(seed).standard_normal(len(initial))
    return [value + float(start_spread) * float(draw) for value, draw in zip(initial, noise)]
