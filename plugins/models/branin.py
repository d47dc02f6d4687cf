"""The Branin (Branin-Hoo) function f(x, y) = a (y - b x^2 + c x - r)^2 + s (1 - t) cos(x) + s with the
usual a = 1, b = 5.1 / (4 pi^2), c = 5 / pi, r = 6, s = 10, t = 1 / (8 pi): three minima, all
f = 0.397887, at (-pi, 12.275), (pi, 2.275) and (9.42478, 2.475); the distance reported is to the nearest.

Reference: F. H. Branin, "Widely convergent method for finding multiple solutions of simultaneous
nonlinear equations", IBM Journal of Research and Development 16(5), 1972.
"""

import math
from collections.abc import Sequence

import tensorflow as tf

from trainer.config.ranges import valid
from trainer.scalar import ScalarProblem

A, B, C, R, S, T = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
MINIMA = [[math.pi, 2.275], [-math.pi, 12.275], [9.42478, 2.475]]


@valid(initial="each (-inf, inf)", start_spread=">= 0", seed="int (-inf, inf)")
class Branin(ScalarProblem):
    def __init__(self, initial: Sequence[float], start_spread: float = 0.0, seed: int = 0):
        super().__init__(
            ["x", "y"], initial, minimum=MINIMA[0], other_minima=MINIMA[1:], start_spread=start_spread, seed=seed
        )

    def objective(self, x, y):
        return A * (y - B * x * x + C * x - R) ** 2 + S * (1 - T) * tf.cos(x) + S
