"""The Styblinski-Tang function f(v) = sum_i (v_i^4 - 16 v_i^2 + 5 v_i) / 2: in each dimension a deep and a
shallow well; the global minimum, about -39.16617 n, at v_i = -2.903534 for every i.

Reference: M. A. Styblinski and T.-S. Tang, "Experiments in nonconvex optimization: stochastic
approximation with function smoothing and simulated annealing", Neural Networks 3(4), 1990.
"""

from collections.abc import Sequence

from trainer.config.ranges import valid
from trainer.scalar import ScalarProblem

ARGMIN = -2.903534


@valid(names="each any", initial="each (-inf, inf)", start_spread=">= 0", seed="int (-inf, inf)")
class StyblinskiTang(ScalarProblem):
    def __init__(self, names: Sequence[str], initial: Sequence[float], start_spread: float = 0.0, seed: int = 0):
        super().__init__(names, initial, minimum=[ARGMIN] * len(names), start_spread=start_spread, seed=seed)

    def objective(self, *values):
        return sum((v**4 - 16 * v * v + 5 * v) / 2 for v in values)
