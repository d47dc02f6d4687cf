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
    with contextlib.ExitStack() as stack:
        stack.enter_context(run.runtime.summary_writer(run.output_dir).as_default())
        signals = stack.enter_context(StopSignals())
        for action in reversed(run.actions):
            stack.callback(action.close)
        if loop.done < run.total_steps:  # a call of no steps traces and compiles the loop: the calls after it
            # time steps alone (the step count is a tensor argument, so every call shares its program)
            loop.compile_seconds, _ = timed_call(run, 0, compiles=True)
        for action in run.actions:
            action.begin(run, loop)
        first_call = True  # a data run's XLA step compiles at its first step in this process
        while loop.done < run.total_steps and loop.stop is None:
            due_in = (action.steps_to_due(loop.done) for action in run.actions)
            count = min(run.cfg.trainer.steps_per_call, run.total_steps - loop.done, *due_in)
            seconds, loop.outputs = timed_call(run, count, compiles=first_call)
            first_call = False
            loop.step_seconds += seconds
            loop.done = int(run.global_step.numpy())
            received = signal_received(run, signals)
            loop.stop = f"stopped by {received.name}" if received else None
            for action in run.actions:
                if action.due(run, loop):
                    loop.stop = action.act(run, loop) or loop.stop
            if received:
                raise interrupted(run, loop, received)
        # What fit does at its end: EMA weights, Schedule-Free's averaged weights, ... replace the training ones.
        run.optimizer.finalize_variable_values(run.model.trainable_variables)
        for action in run.actions:
            action.end(run, loop)
    return loop.results()


def timed_call(run: Run, count: int, compiles: bool = False) -> tuple[float, tuple]:
    """The compiled loop's call of `count` steps: its wall seconds, to its outputs' arrival, and its outputs.
    A call that `compiles` (the first: a data run's XLA step compiles at its first step) hides TensorFlow's
    native notices, among them those of XLA's loader of cached programs (trainer.compilation_cache), which
    takes the tuning flags it was compiled with for CPU features the host lacks."""
    started = time.perf_counter()
    with tensorflow_notices_hidden() if compiles else contextlib.nullcontext(), unreadable_cache_reported():
        outputs = run.train_loop(tf.constant(count, tf.int64))
        outputs[1].numpy()  # waits for the call to end, where the device runs it asynchronously
    return time.perf_counter() - started, outputs


def signal_received(run: Run, signals: StopSignals) -> signal.Signals | None:
    """The stop signal this process received; in a cluster, any worker's, so that every worker stops at the
    same step (a collective: all call it after each compiled call)."""
    if run.runtime.in_cluster and run.runtime.any_worker(signals.received is not None):
        return signals.received or signal.SIGTERM  # another worker's
    return signals.received


def interrupted(run: Run, loop: Loop, received: signal.Signals) -> Interrupted:
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
