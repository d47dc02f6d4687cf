"""Himmelblau's function f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2: four minima, all f = 0, at (3, 2),
(-2.805118, 3.131312), (-3.779310, -3.283186) and (3.584428, -1.848126); the distance reported is to the nearest.

Reference: D. M. Himmelblau, "Applied Nonlinear Programming", McGraw-Hill, 1972.
"""

from collections.abc import Sequence

from trainer.config.ranges import valid
from trainer.scalar import ScalarProblem

MINIMA = [[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126]]


@valid(initial="each (-inf, inf)", start_spread=">= 0", seed="int (-inf, inf)")
class Himmelblau(ScalarProblem):
    def __init__(self, initial: Sequence[float], start_spread: float = 0.0, seed: int = 0):
        super().__init__(
            ["x", "y"], initial, minimum=MINIMA[0], other_minima=MINIMA[1:], start_spread=start_spread, seed=seed
        )

    def objective(self, x, y):
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2
