"""The controller owns time: it runs the compiled train loop for as many steps as it may before some action
is due, hands the run and the loop's state to the actions that are, and ends the run. It knows no action by
name. It also owns the stop signals: SIGINT or SIGTERM after a call stops the loop there, the actions due at
a stop (the checkpoints) act, and the command ends with a line that says how to resume."""

import contextlib
import signal
import time

import tensorflow as tf

from trainer.errors import ConfigError, Interrupted
from trainer.loop.checkpoints import checkpoint_paths
from trainer.loop.run import Loop, Run
from trainer.loop.signals import StopSignals
from trainer.startup import tensorflow_notices_hidden, unreadable_cache_reported

# The order in which the actions due at one step run, and their ends at the last; each names its phase.
PHASES = (
    "record",  # the train scalars of the log points the call passed (loop/points.py), before anything can stop it
    "guard",  # checks of the call's own outputs, before anything else reads them: a loss that is not finite
    "measure",  # values computed from the model: validation, histograms, a user's action by default
    "weights",  # changes to the final weights at the end, after the best ones are restored: SWA's batch norm
    "observe",  # readers of the running means: Keras callbacks
    "react",  # what follows the logged values: the reduce-on-plateau schedule
    "save",  # checkpoints, which keep the state the phases before left
    "draw",  # pictures of the finished run
    "report",  # the final report and metrics.json, last
)


def drive(run: Run, loop: Loop) -> dict:
    """Train `run` from `loop.done` to its last step, or until an action or a signal stops it; return its
    final numbers."""
    return drive_together([run], [loop], alone(run))[0]


def alone(run: Run):
    """`run`'s compiled loop as `drive_together` calls one: `(count, going) -> [its outputs]`."""
    return lambda count, going=(): [run.train_loop(count)]


def drive_together(runs: list[Run], loops: list[Loop], train_loop, raises: bool = True) -> list:
    """Train `runs`, each from its loop's step, with `train_loop(count, going)`, a call of `count` steps of the
    runs whose indexes are `going` that returns each run's outputs (a population's, trainer/loop/population.py).
    Each run has its own actions, event file and stop; return each one's final numbers, or, unless it is a run
    `raises` (a run alone, which raises it), the error it ended with: the others go on."""
    visits = Visits(runs, loops, raises)
    with contextlib.ExitStack() as stack:
        signals = stack.enter_context(StopSignals())
        for run in runs:
            for action in reversed(run.actions):
                stack.callback(action.close)
        if visits.going() and not all(map(traced, runs)):  # a call of no steps traces and compiles the loop: the
            # calls after it time steps alone (the step count is a tensor argument, so every call shares its program)
            compile_seconds, _ = timed_call(train_loop, 0, compiles=True)
            for loop in loops:
                loop.compile_seconds = compile_seconds
        visits.each(range(len(runs)), begin)
        first_call = True  # a data run's XLA step compiles at its first step in this process
        while going := visits.going():
            count = min(steps_before_due(runs[index], loops[index]) for index in going)
            seconds, outputs = timed_call(train_loop, count, going, compiles=first_call)
            first_call = False
            received = signal_received(runs[going[0]], signals)
            for index in going:
                run, loop = runs[index], loops[index]
                loop.step_seconds += seconds / len(going)  # the call's steps, shared by the runs it advanced
                loop.outputs, loop.done = outputs[index], int(run.global_step.numpy())
                loop.stop = f"stopped by {received.name}" if received else None
                visits.each([index], act)
            if received:
                raise interrupted(runs[going[0]], loops[going[0]], received, len(going))
            still = visits.going()
            visits.each([index for index in going if index not in still], end)
        visits.each(range(len(runs)), end)
    return visits.results()


def traced(run: Run) -> bool:
    """Whether `run`'s compiled loop is traced already: a reused run's (trainer/loop/reuse.py), whose first trace
    was the call of no steps of the run it was built for (the graph action reads the trace after that call), so
    that the loop is compiled too, and another such call would cost a job a millisecond for nothing."""
    return run.train_loop.experimental_get_tracing_count() > 0


class Visits:
    """The actions' visits to each run of `drive_together`, with its event file the default: a run's error
    ends it (or, where it `raises`, the drive), and a run ends once."""

    def __init__(self, runs: list[Run], loops: list[Loop], raises: bool):
        self.runs, self.loops, self.raises = runs, loops, raises
        self.writers = [run.runtime.summary_writer(run.output_dir) for run in runs]
        self.errors: dict[int, Exception] = {}
        self.ended: set[int] = set()

    def going(self) -> list[int]:
        return [
            index
            for index, (run, loop) in enumerate(zip(self.runs, self.loops))
            if index not in self.ended and loop.done < run.total_steps and loop.stop is None
        ]

    def each(self, indexes, work) -> None:
        for index in indexes:
            if index in self.ended:
                continue
            try:
                with self.writers[index].as_default():
                    work(self.runs[index], self.loops[index])
            except Exception as error:
                if self.raises:
                    raise
                self.errors[index] = error
            if work is end or index in self.errors:
                self.ended.add(index)
                self.writers[index].close()

    def results(self) -> list:
        return [self.errors.get(index) or loop.results() for index, loop in enumerate(self.loops)]


def steps_before_due(run: Run, loop: Loop) -> int:
    """The most steps the next call may take for `run`: to its last step, or to the next step an action is due."""
    due_in = (action.steps_to_due(loop.done) for action in run.actions)
    return min(run.cfg.trainer.steps_per_call, run.total_steps - loop.done, *due_in)


def begin(run: Run, loop: Loop) -> None:
    for action in run.actions:
        action.begin(run, loop)


def act(run: Run, loop: Loop) -> None:
    for action in run.actions:
        if action.due(run, loop):
            loop.stop = action.act(run, loop) or loop.stop


def end(run: Run, loop: Loop) -> None:
    """What fit does at its end (EMA weights, Schedule-Free's averaged weights, ... replace the training
    ones), then each action's end."""
    run.optimizer.finalize_variable_values(run.model.trainable_variables)
    for action in run.actions:
        action.end(run, loop)


def timed_call(train_loop, count: int, going=(), compiles: bool = False) -> tuple[float, list]:
    """`train_loop`'s call of `count` steps of the runs `going`: its wall seconds, to its outputs' arrival,
    and each run's outputs. A call that `compiles` (the first: a data run's XLA step compiles at its first
    step) hides TensorFlow's native notices, among them those of XLA's loader of cached programs
    (trainer.compilation_cache), which takes the tuning flags it was compiled with for CPU features the host
    lacks."""
    started = time.perf_counter()
    with tensorflow_notices_hidden() if compiles else contextlib.nullcontext(), unreadable_cache_reported():
        outputs = train_loop(tf.constant(count, tf.int64), going)
        outputs[-1][1].numpy()  # waits for the call to end, where the device runs it asynchronously
    return time.perf_counter() - started, outputs


def signal_received(run: Run, signals: StopSignals) -> signal.Signals | None:
    """The stop signal this process received; in a cluster, any worker's, so that every worker stops at the
    same step (a collective: all call it after each compiled call)."""
    if run.runtime.in_cluster and run.runtime.any_worker(signals.received is not None):
        return signals.received or signal.SIGTERM  # another worker's
    return signals.received


def interrupted(run: Run, loop: Loop, received: signal.Signals, together: int = 1) -> Interrupted:
    if together > 1:
        return Interrupted(
            received,
            f"stopped by {received.name} at step {loop.done} of {run.total_steps}; each of the {together} runs "
            "trained together wrote its checkpoint: run the same command to resume",
        )
    saved = checkpoint_paths(run.output_dir / "checkpoints")
    return Interrupted(
        received,
        f"stopped by {received.name} at step {loop.done} of {run.total_steps}; checkpoint "
        f"{saved[-1] if saved else None} written: run the same command to resume",
    )


def in_phase_order(actions: list) -> tuple:
    """`actions` sorted by their phase, in their listed order within one; an unknown phase is refused."""
    for action in actions:
        if action.phase not in PHASES:
            raise ConfigError(f"actions: {type(action).__name__}.phase is {action.phase!r}; valid: {', '.join(PHASES)}")
    return tuple(sorted(actions, key=lambda action: PHASES.index(action.phase)))
