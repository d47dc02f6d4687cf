"""The controller owns time: it runs the compiled train loop for as many steps as it may before some action
is due, hands the run to the actions that are, and ends the run. It knows no action by name."""

import contextlib

import tensorflow as tf


def run_loop(run) -> dict:
    """Train `run` from its current step to its last (or until an action stops it); return its results."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(run.runtime.summary_writer(run.output_dir).as_default())
        for action in reversed(run.actions):
            stack.callback(action.close)
        for action in run.actions:
            action.begin(run)
        while run.done < run.total_steps and run.stop is None:
            count = min(
                run.cfg.trainer.steps_per_call,
                run.total_steps - run.done,
                *(action.steps_to_due(run.done) for action in run.actions),
            )
            run.outputs = run.train_loop(tf.constant(count, tf.int64))
            run.done = int(run.step.numpy())
            for action in run.actions:
                if action.due(run):
                    action.step(run)
        # What fit does at its end: EMA weights, Schedule-Free's averaged weights, ... replace the training ones.
        run.optimizer.finalize_variable_values(run.model.trainable_variables)
        for action in run.actions:
            action.end(run)
    return run.results
