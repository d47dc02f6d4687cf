"""Train scalars and progress: every `trainer.log_every` steps, the means of the loss and metrics over the
steps since the last point, the learning rate, that step's gradient norm and the task's own values (a scalar
problem's variables) go to TensorBoard, the loop's logs and the progress display; the means restart. The loop
records the points as it passes them (trainer/loop/points.py), and they are written after each call. So are
the seconds spent in steps (`time/step_seconds`, tracing and compiling apart: `time/compile_seconds`)."""

import logging

from trainer.actions.base import Action, log_points
from trainer.loop.run import STEP_SECONDS
from trainer.outputs.events import write_scalars
from trainer.outputs.progress import Progress

log = logging.getLogger("trainer.train")
COMPILE_SECONDS = "time/compile_seconds"  # tracing and compiling the loop, at the step where the process did it
CALL_SECONDS = 1.0  # the longest a call runs past a log point


class TrainScalars(Action):
    phase = "record"

    def begin(self, run, loop) -> None:
        self.every = run.cfg.trainer.log_every
        self.progress = Progress(run.total_steps, loop.done, loop.step_seconds, run.cfg.logging.progress)
        self.since = loop.done, loop.step_seconds  # where the next call starts
        self.rate = None  # seconds a step, once a call measured it
        write_scalars({COMPILE_SECONDS: loop.compile_seconds}, loop.done)
        if loop.done == 0:  # the first point of a path
            start = {tag: float(value) for tag, value in run.task.log_values(run.model).items()}
            write_scalars({**start, STEP_SECONDS: 0.0}, 0)

    def steps_to_due(self, done: int) -> float:
        """The loop records its log points itself (trainer/loop/points.py), and the progress display shows
        them after the call that passed them: a call runs past a log point only for about CALL_SECONDS of steps
        at the rate measured so far, so that the display keeps up and a signal (SIGTERM, Ctrl-C), which waits
        for its call to end, is answered soon. Ending calls at the display's points cost a short run ten calls."""
        to_point = self.every - done % self.every
        return to_point if self.rate is None else max(to_point, int(CALL_SECONDS / max(self.rate, 1e-9)))

    def due(self, run, loop) -> bool:
        return True  # after every call: the points it passed

    def act(self, run, loop) -> None:
        """Write the call's points, each with the seconds of steps up to it (the call's, shared evenly by its
        steps); the run's last step is a point of its own, whatever its window."""
        start, started = self.since
        share = (loop.step_seconds - started) / max(loop.done - start, 1)
        self.rate = share if loop.done > start else self.rate
        points = run.points.read(int(loop.outputs[2]))
        timed = [(step, values, started + share * (step - start)) for step, values in points]
        if loop.done == run.total_steps and (not points or points[-1][0] != loop.done):
            timed.append(self.last_point(run, loop, float(loop.outputs[0])))
        self.write(loop, timed)
        self.since = loop.done, loop.step_seconds

    def end(self, run, loop) -> None:
        if "train/loss" not in loop.logs:  # a checkpoint of trainer 0.1, which kept no logs, and no step since
            self.write(loop, [self.last_point(run, loop, 0.0)])
        if loop.done:
            log.info(
                "%d steps in %.3g s of compiled calls (%.3g ms a step), after %.3g s of tracing and compiling",
                loop.done,
                loop.step_seconds,
                1e3 * loop.step_seconds / loop.done,
                loop.compile_seconds,
            )

    def last_point(self, run, loop, gradient_norm: float) -> tuple[int, dict, float]:
        """The run's last point, of the steps since the one before, read here; the run ends, so its windows
        need no restart (the Keras callbacks read them after)."""
        values = {tag: float(value) for tag, value in run.points.values(gradient_norm).items()}
        return loop.done, values, loop.step_seconds

    def write(self, loop, timed: list[tuple[int, dict, float]]) -> None:
        """The points (step, values, seconds of steps up to it), written at once, shown and kept in order."""
        log_points(loop, [(step, {**values, STEP_SECONDS: seconds}) for step, values, seconds in timed])
        for step, values, seconds in timed:
            self.progress.update(step, seconds, values)
