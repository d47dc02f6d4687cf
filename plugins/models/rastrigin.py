"""Rastrigin's function f(v) = 10 n + sum_i (v_i^2 - 10 cos(2 pi v_i)): a bowl covered in a lattice of local
minima, the global one f(0, ..., 0) = 0, which no local method is guaranteed to reach: this is what makes it
a test of an optimizer's reach rather than its precision.

Reference: L. A. Rastrigin, "Systems of extremal control", Nauka, Moscow, 1974.
"""

import math
from collections.abc import Sequence

import tensorflow as tf

from trainer.config.ranges import valid
from trainer.scalar import ScalarProblem


@valid(names="each any", initial="each (-inf, inf)", start_spread=">= 0", seed="int (-inf, inf)")
class Rastrigin(ScalarProblem):
    def __init__(self, names: Sequence[str], initial: Sequence[float], start_spread: float = 0.0, seed: int = 0):
        super().__init__(names, initial, minimum=[0.0] * len(names), start_spread=start_spread, seed=seed)

    def objective(self, *values):
        return sum(v * v - 10 * tf.cos(2 * math.pi * v) + 10 for v in values)
