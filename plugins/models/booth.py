"""Booth's function f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2: a quadratic bowl whose axes are tilted, minimum
f(1, 3) = 0.

Reference: A. D. Booth, "An application of the method of steepest descents to the solution of systems of
non-linear simultaneous equations", The Quarterly Journal of Mechanics and Applied Mathematics 2(4), 1949.
"""

from collections.abc import Sequence

from trainer.config.ranges import valid
from trainer.scalar import ScalarProblem


@valid(initial="each (-inf, inf)", start_spread=">= 0", seed="int (-inf, inf)")
class Booth(ScalarProblem):
    def __init__(self, initial: Sequence[float], start_spread: float = 0.0, seed: int = 0):
        super().__init__(["x", "y"], initial, minimum=[1.0, 3.0], start_spread=start_spread, seed=seed)

    def objective(self, x, y):
        return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2
