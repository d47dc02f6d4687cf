"""Rosenbrock's function f(x, y) = (a - x)^2 + b (y - x^2)^2, minimum (a, a^2): a narrow curved valley.

Reference: H. H. Rosenbrock, "An automatic method for finding the greatest or least value of a
function", The Computer Journal 3(3), 1960.
"""

from collections.abc import Sequence

from trainer.config.ranges import valid
from trainer.scalar import ScalarProblem


@valid(
    a="(-inf, inf)",
    b=">= 0",  # below 0 there is no minimum
    initial="each (-inf, inf)",
    start_spread=">= 0",
    seed="int (-inf, inf)",
)
class Rosenbrock(ScalarProblem):
    def __init__(self, a: float, b: float, initial: Sequence[float], start_spread: float = 0.0, seed: int = 0):
        super().__init__(["x", "y"], initial, [a, a * a], start_spread=start_spread, seed=seed)
        self.a, self.b = float(a), float(b)

    def objective(self, x, y):
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2
