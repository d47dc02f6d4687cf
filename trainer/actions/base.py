"""The contract of an action: one concern of a run (its train scalars, its checkpoints, its validation, ...)
that the controller (trainer/loop/controller.py) calls at the steps where it is due, without knowing what it
does.

The controller calls `begin` once before the first compiled call, sizes each call to end on the next step
some action is due (`steps_to_due`), calls `act` on every action that is `due` after it, `end` once after the
last step, and `close` in any case. An action reads the `Run` (trainer/loop/run.py: what was built, never
changed) and the `Loop` (the loop's state: the step reached, the last call's outputs) and reports through one
channel, `loop.logs`: the latest value of each logged tag (`train/loss`, `val/accuracy`) and, at the end, its
final numbers as `final/<name>`, which the report writes to metrics.json. `due` only asks; `act` may return a
reason to stop the run early, at that step; raising stops the run at once. Variables returned by `state` are
checkpointed with the run.

Among the actions due at a step, and at the end, they run in the order of their `phase` (PHASES, in
trainer/loop/controller.py), and in the order they are listed within a phase; a user's own action
(`+actions.NAME._target_=...`) is in `measure` unless it says otherwise: after the call's train scalars are
written (the loop restarts their means at each log point it passes, trainer/loop/points.py) and before the
report.
"""

import math

from trainer.outputs.events import write_points


class Action:
    phase: str = "measure"  # when it runs among the actions due at the same step (PHASES)
    every: int | None = None  # steps between its calls of `act`; None: none inside the loop

    def state(self) -> dict:
        """Trackable state to checkpoint, by name; built before the run's checkpoint is restored."""
        return {}

    def begin(self, run, loop) -> None:
        """Before the first compiled call, after a resumed run's checkpoint is restored."""

    def steps_to_due(self, done: int) -> float:
        """How many steps after `done` it is next due: the longest the next compiled call may be."""
        return self.every - done % self.every if self.every else math.inf

    def due(self, run, loop) -> bool:
        """Whether it acts after the compiled call that ended at `loop.done`; it changes nothing."""
        return bool(self.every) and (loop.done % self.every == 0 or loop.done == run.total_steps)

    def act(self, run, loop) -> str | None:
        """After a compiled call that ended on a step where it is due; a reason to stop early, or None."""
        return None

    def end(self, run, loop) -> None:
        """After the last step, once the optimizer's final weights are in place."""

    def close(self) -> None:
        """Always, last: whatever the run ended by."""


def log_scalars(loop, values: dict, step: int | None = None) -> None:
    """Each of `values` as a TensorBoard scalar at `step` (the loop's, by default), and as its tag's latest
    value in `loop.logs`: how an action reports its numbers."""
    log_points(loop, [(loop.done if step is None else step, values)])


def log_points(loop, points: list[tuple[int, dict]]) -> None:
    """`log_scalars` of each (step, values) of `points`, in order, written at once."""
    write_points(points)
    for _, values in points:
        loop.logs.update(values)
