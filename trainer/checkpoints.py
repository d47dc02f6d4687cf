"""Checkpoints of a run: written every `trainer.checkpoint_every` steps, at the end and on SIGINT or SIGTERM,
and restored at start, so that re-running a command in its run directory continues where it stopped.

A checkpoint holds everything the continuation needs to end exactly as an uninterrupted run: the weights,
the optimizer's slots, the step counter (which is also the data position: an epoch's order is a function
of the seed and the epoch), the running train metrics, the validation monitor (best value, patience) and
TensorFlow's global random generator.
"""
import logging
import signal
import threading
from pathlib import Path

import tensorflow as tf

from trainer.errors import TrainerError

log = logging.getLogger(__name__)


def make_checkpoint(model, optimizer, step, metrics, monitor) -> tf.train.Checkpoint:
    """The checkpoint of a run's parts; `metrics` are the Keras metrics whose running state it keeps."""
    return tf.train.Checkpoint(
        model=model, optimizer=optimizer, step=step, metric_variables=[v for m in metrics for v in m.variables],
        monitor=monitor.variables(), rng=tf.random.get_global_generator(),
    )


def restore_latest(checkpoint: tf.train.Checkpoint, directory: Path) -> str | None:
    """Restore the newest checkpoint in `directory` that can be read, reporting each one that cannot by
    name; None where the directory has none."""
    state = tf.train.get_checkpoint_state(str(directory))
    if state is None:
        return None
    for path in reversed(state.all_model_checkpoint_paths):
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
            return path
        except Exception as error:  # the reader raises many kinds for a truncated or foreign file
            log.warning("checkpoint %s cannot be read (%s); trying the one before", path, str(error).splitlines()[0])
    raise TrainerError(f"no checkpoint in {directory} can be read; move it away to start afresh")


class StopSignals:
    """While active, SIGINT and SIGTERM only set `received`, so the train loop can checkpoint and stop
    between two compiled calls. Outside the main thread, where Python cannot catch signals, it does nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.received, self._previous = None, {}
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._catch) for sig in self.SIGNALS}
        return self

    def _catch(self, signum, frame):
        self.received = signal.Signals(signum)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
