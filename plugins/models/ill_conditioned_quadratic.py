"""An ill-conditioned quadratic f(v) = sum_i h_i v_i^2 / 2 in n dimensions, the curvatures h_i log-spaced
from 1 to `condition_number`: the condition number of its Hessian, which is what slows gradient descent
(its best rate is (kappa - 1) / (kappa + 1) per step). Minimum f(0, ..., 0) = 0.

Reference: J. Nocedal and S. J. Wright, "Numerical Optimization", 2nd ed., Springer 2006, section 3.3.
"""

from trainer.config.ranges import valid
from trainer.errors import ConfigError
from trainer.scalar import ScalarProblem


@valid(
    dimensions="int >= 1",
    condition_number=">= 1",
    initial="(-inf, inf)",
    start_spread=">= 0",
    seed="int (-inf, inf)",
)
class IllConditionedQuadratic(ScalarProblem):
    def __init__(
        self, dimensions: int, condition_number: float, initial: float, start_spread: float = 0.0, seed: int = 0
    ):
        if dimensions < 1 or condition_number < 1:
            raise ConfigError(
                f"model.dimensions must be >= 1 and model.condition_number >= 1; got {dimensions}, {condition_number}"
            )
        names = [f"v{i}" for i in range(dimensions)]
        super().__init__(
            names, [initial] * dimensions, minimum=[0.0] * dimensions, start_spread=start_spread, seed=seed
        )
        exponents = [i / max(dimensions - 1, 1) for i in range(dimensions)]
        self.curvatures = [float(condition_number) ** e for e in exponents]

    def objective(self, *values):
        return sum(h * v * v / 2 for h, v in zip(self.curvatures, values))
