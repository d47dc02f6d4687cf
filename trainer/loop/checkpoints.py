"""What checkpoints are made of and how they are restored (the checkpoints action, trainer/actions/, decides
when they are written), so that re-running a command in its run directory continues where it stopped.

A checkpoint holds everything the continuation needs to end exactly as an uninterrupted run: the weights,
the optimizer's slots, the step counter (which is also the data position: an epoch's order is a function
of the seed and the epoch), the running train metrics, each action's state (the validation monitor, the
plateau schedule's counters) and TensorFlow's global random generator. Beside them, `config.yaml` records
the configuration they were trained with (trainer/config/record.py).
"""

import logging
from pathlib import Path

import tensorflow as tf

from trainer.errors import TrainerError

log = logging.getLogger(__name__)


def make_checkpoint(model, optimizer, step, metrics, actions: dict, data: dict) -> tf.train.Checkpoint:
    """The checkpoint of a run's parts; `metrics` are the Keras metrics whose running state it keeps,
    `actions` each action's state by its name, and `data` a streamed data set's iterator, if any."""
    return tf.train.Checkpoint(
        model=model,
        optimizer=optimizer,
        step=step,
        metric_variables=[v for m in metrics for v in m.variables],
        actions=actions,
        rng=tf.random.get_global_generator(),
        **data,
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
