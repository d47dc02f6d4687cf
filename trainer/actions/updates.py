"""Step quality every `every` steps (none by default), per trainable variable: the norms of its weight, of the
gradient (on the probe batch, at the weights the step started from), of the update the optimizer made at that
step, the update-to-weight ratio (about 1e-3 is the rule of thumb of a healthy rate), and the cosine between
that update and the one before (near -1: the steps oscillate across a valley; near 1: they keep going one way),
under diagnostics/<quantity>/<variable>. The calls are split to stop on the two steps before each logged one,
where the weights are read; the numbers are those of the run without it. At the end (`logging.pictures`), the
ratios over the run as the picture update_ratios.

A run resumed on the step before a logged one logs it without the cosine."""

import numpy as np

from trainer.actions.base import Action, log_scalars
from trainer.actions.pictures import draw_logged
from trainer.config.ranges import valid
from trainer.loop.step import make_gradients
from trainer.outputs.events import variable_name


@valid(every="int >= 1")
class Updates(Action):
    def __init__(self, every: int | None = None):
        self.every = every
        self.weights: dict[int, list] = {}  # step -> the weights read after it, for the next two steps' updates
        self.gradient: list = []  # at the weights of the step before the next logged one

    def begin(self, run, loop) -> None:
        if self.every:
            self.variables = run.model.trainable_variables
            self.names = [variable_name(v) for v in self.variables]
            self.gradients = make_gradients(run.model, run.loss_fn)
            self.probe = run.first_batch()
            self.read(loop.done)
            self.read_gradient(loop.done)

    def watched(self, step: int) -> bool:
        """Whether `step` is a logged step or one of the two before it, whose weights the logged update and
        the one before it start from (every step, where `every` is 3 or less)."""
        return (step + 2) % self.every in (0, 1, 2)

    def steps_to_due(self, done: int) -> float:
        if not self.every:
            return super().steps_to_due(done)
        next_logged = (done // self.every + 1) * self.every
        return max(1, next_logged - 2 - done)

    def due(self, run, loop) -> bool:
        return bool(self.every) and self.watched(loop.done)

    def act(self, run, loop) -> None:
        done = loop.done
        self.read(done)
        if done % self.every == 0 and done - 1 in self.weights:
            self.log(loop, self.weights[done], self.weights[done - 1], self.weights.get(done - 2))
        self.read_gradient(done)

    def read(self, done: int) -> None:
        """Keep the weights after step `done`, and those of the two steps before it."""
        self.weights = {step: w for step, w in self.weights.items() if step >= done - 2}
        self.weights[done] = [np.asarray(v, np.float64) for v in self.variables]

    def read_gradient(self, done: int) -> None:
        """The gradient at the weights after step `done`, where the next step is a logged one."""
        if (done + 1) % self.every == 0:
            self.gradient = [np.asarray(g, np.float64) for g in self.gradients(*self.probe)]

    def end(self, run, loop) -> None:
        if self.every:
            curves = {name: f"diagnostics/update_ratio/{name}" for name in self.names}
            draw_logged(run, loop, "update_ratios", "Update-to-weight ratio", curves, ("1e-3", 1e-3))

    def log(self, loop, weights: list, before: list, earlier: list | None) -> None:
        values = {}
        for i, name in enumerate(self.names):
            update = weights[i] - before[i]
            norms = {"weight_norm": norm(weights[i]), "gradient_norm": norm(self.gradient[i])}
            norms |= {"update_norm": norm(update), "update_ratio": norm(update) / max(norm(weights[i]), 1e-30)}
            if earlier is not None:
                norms["update_cosine"] = cosine(update, before[i] - earlier[i])
            values |= {f"diagnostics/{quantity}/{name}": value for quantity, value in norms.items()}
        log_scalars(loop, values)


def norm(array: np.ndarray) -> float:
    return float(np.sqrt(np.sum(array * array)))


def cosine(first: np.ndarray, second: np.ndarray) -> float:
    """Their cosine; 0 where either is zero, which has no direction."""
    lengths = norm(first) * norm(second)
    return float(np.sum(first * second) / lengths) if lengths else 0.0
