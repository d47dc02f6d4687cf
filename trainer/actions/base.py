"""The contract of an action: one concern of a run (its train scalars, its checkpoints, its validation, ...)
that the controller calls at the steps where it is due, without knowing what it does.

The controller (trainer/controller.py) calls `begin` once before the first compiled call, sizes each call to
end on the next step some action is due (`steps_to_due`), calls `step` on every action that is `due` after
it, `end` once after the last step, and `close` in any case. An action reads and writes the `Run`
(trainer/run.py): the model, the optimizer, `run.done`, the `run.logs` of the latest values, the
`run.results` that become metrics.json. Raising stops the run at once; setting `run.stop` ends the loop at
the next step boundary. Variables returned by `state` are checkpointed with the run.
"""

import math


class Action:
    every: int | None = None  # steps between its calls of `step`; None: none inside the loop

    def state(self) -> dict:
        """Trackable state to checkpoint, by name; built before the run's checkpoint is restored."""
        return {}

    def begin(self, run) -> None:
        """Before the first compiled call, after a resumed run's checkpoint is restored."""

    def steps_to_due(self, done: int) -> float:
        """How many steps after `done` it is next due: the longest the next compiled call may be."""
        return self.every - done % self.every if self.every else math.inf

    def due(self, run) -> bool:
        return bool(self.every) and (run.done % self.every == 0 or run.done == run.total_steps)

    def step(self, run) -> None:
        """After a compiled call that ended on a step where it is due."""

    def end(self, run) -> None:
        """After the last step, once the optimizer's final weights are in place."""

    def close(self) -> None:
        """Always, last: whatever the run ended by."""
