"""Ackley's function f(x, y) = -20 exp(-0.2 sqrt((x^2 + y^2) / 2)) - exp((cos 2 pi x + cos 2 pi y) / 2) + e + 20:
a nearly flat outer region, many local minima, and a deep hole at f(0, 0) = 0 that no local method is
guaranteed to find. The square root is taken of its argument plus 1e-30, so that the gradient at the
origin itself is 0 rather than NaN.

Reference: D. H. Ackley, "A connectionist machine for genetic hillclimbing", Kluwer, 1987.
"""

import math
from collections.abc import Sequence

import tensorflow as tf

from trainer.config.ranges import valid
from trainer.scalar import ScalarProblem


@valid(initial="each (-inf, inf)", start_spread=">= 0", seed="int (-inf, inf)")
class Ackley(ScalarProblem):
    def __init__(self, initial: Sequence[float], start_spread: float = 0.0, seed: int = 0):
        super().__init__(["x", "y"], initial, minimum=[0.0, 0.0], start_spread=start_spread, seed=seed)

    def objective(self, x, y):
        radius = tf.sqrt((x * x + y * y) / 2 + 1e-30)
        waves = (tf.cos(2 * math.pi * x) + tf.cos(2 * math.pi * y)) / 2
        return -20 * tf.exp(-0.2 * radius) - tf.exp(waves) + math.e + 20
