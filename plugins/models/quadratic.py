"""A separable quadratic sum_i(square_i * v_i^2 + linear_i * v_i) + constant: the tutorials' functions.

By coefficients: 2x^2 + x + 3 is square=[2], linear=[1], constant=3; a^2 + 2b^2 is names=[a, b],
square=[1, 2], linear=[0, 0], constant=0. The minimum is at v_i = -linear_i / (2 square_i).
"""

from collections.abc import Sequence

from trainer.config.ranges import valid
from trainer.errors import ConfigError
from trainer.scalar import ScalarProblem


@valid(
    names="each any",
    square="each > 0",  # for a minimum to exist
    linear="each (-inf, inf)",
    constant="(-inf, inf)",
    initial="each (-inf, inf)",
    start_spread=">= 0",
    seed="int (-inf, inf)",
)
class Quadratic(ScalarProblem):
    def __init__(
        self,
        names: Sequence[str],
        square: Sequence[float],
        linear: Sequence[float],
        constant: float,
        initial: Sequence[float],
        start_spread: float = 0.0,
        seed: int = 0,
    ):
        for key, values in (("square", square), ("linear", linear)):
            if len(values) != len(names):
                raise ConfigError(f"model.{key} has {len(values)} values for {len(names)} names {list(names)}")
        if any(a <= 0 for a in square):
            raise ConfigError(f"model.square must be > 0 for a minimum to exist, got {list(square)}")
        minimum = [-b / (2 * a) for a, b in zip(square, linear)]
        super().__init__(names, initial, minimum, start_spread=start_spread, seed=seed)
        self.square, self.linear, self.constant = (
            [float(a) for a in square],
            [float(b) for b in linear],
            float(constant),
        )

    def objective(self, *values):
        return sum(a * v * v + b * v for a, b, v in zip(self.square, self.linear, values)) + self.constant
