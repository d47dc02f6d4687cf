"""What checkpoints are made of and how they are restored (the checkpoints action, trainer/actions/, decides
when they are written), so that re-running a command in its run directory continues where it stopped.

A checkpoint holds everything the continuation needs to end exactly as an uninterrupted run: the weights,
the optimizer's slots, the step counter (which is also the data position: an epoch's order is a function
of the seed and the epoch), the running train metrics, each action's state (the validation monitor, the
plateau schedule's counters) and TensorFlow's global random generator. Beside them, `config.yaml` records the configuration they were
trained with: a run resumes only under the same one, its step budget aside.
"""
import fcntl
import logging
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import tensorflow as tf
from omegaconf import DictConfig, OmegaConf

from trainer.errors import ConfigError, TrainerError

log = logging.getLogger(__name__)


def make_checkpoint(model, optimizer, step, metrics, actions: dict, data: dict) -> tf.train.Checkpoint:
    """The checkpoint of a run's parts; `metrics` are the Keras metrics whose running state it keeps,
    `actions` each action's state by its name, and `data` a streamed data set's iterator, if any."""
    return tf.train.Checkpoint(
        model=model, optimizer=optimizer, step=step, metric_variables=[v for m in metrics for v in m.variables],
        actions=actions, rng=tf.random.get_global_generator(), **data,
    )


# What may change between a run and its continuation: the step budget, where and how often it is saved,
# and what is logged or ranked. Anything else would continue one run's weights under another's settings.
RESUMABLE_CHANGES = ("output_dir", "trainer.resume", "trainer.steps", "trainer.epochs", "trainer.checkpoint_every",
                     "trainer.keep_checkpoints", "logging.", "sweep.")


def record_config(cfg: DictConfig, directory: Path) -> None:
    """Write the run's resolved configuration beside its checkpoints."""
    directory.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, directory / "config.yaml", resolve=True)


def check_same_config(cfg: DictConfig, directory: Path) -> None:
    """Refuse, in one line naming the keys, to resume the checkpoints in `directory` under a configuration
    other than theirs; checkpoints written before configurations were recorded are taken as they are."""
    saved = directory / "config.yaml"
    if tf.train.get_checkpoint_state(str(directory)) is None or not saved.is_file():
        return
    before, now = flat(OmegaConf.to_container(OmegaConf.load(saved))), flat(OmegaConf.to_container(cfg, resolve=True))
    changed = [key for key in dict.fromkeys([*before, *now])
               if before.get(key) != now.get(key) and not key.startswith(RESUMABLE_CHANGES)]
    if changed:
        shown = ", ".join(f"{key} ({before.get(key)!r}, now {now.get(key)!r})" for key in changed[:4])
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        raise ConfigError(f"cannot resume {directory}: it was trained with other settings: {shown}{more}; only the "
                          "step budget (trainer.steps, trainer.epochs) may change; start in a new run directory")


def flat(node, prefix: str = "") -> dict:
    """A nested container as {dotted key: leaf value}."""
    if not isinstance(node, dict) or not node:
        return {prefix.rstrip("."): node}
    return {key: value for name, child in node.items() for key, value in flat(child, f"{prefix}{name}.").items()}


@contextmanager
def claimed(run_dir: Path):
    """Hold `<run_dir>/.lock` while the run lives, so that a second live run in the same directory is
    refused rather than mixed into it; the operating system lets go of it when the process ends."""
    with open(run_dir / ".lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise ConfigError(f"run directory {run_dir} is in use by a live run (pid {lock.read().strip() or '?'}); "
                              "wait for it to end, or choose another hydra.run.dir") from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


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
