"""Beale's function f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2: flat plateaus and
sharp ridges around its one minimum f(3, 0.5) = 0.

Reference: E. M. L. Beale, "On an iterative method for finding a local minimum of a function of more than
one variable", Technical Report 25, Statistical Techniques Research Group, Princeton University, 1958.
"""

from collections.abc import Sequence

from trainer.config.ranges import valid
from trainer.scalar import ScalarProblem


@valid(initial="each (-inf, inf)", start_spread=">= 0", seed="int (-inf, inf)")
class Beale(ScalarProblem):
    def __init__(self, initial: Sequence[float], start_spread: float = 0.0, seed: int = 0):
        super().__init__(["x", "y"], initial, minimum=[3.0, 0.5], start_spread=start_spread, seed=seed)

    def objective(self, x, y):
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y * y * y) ** 2
