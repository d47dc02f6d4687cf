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
from omegaconf import DictConfig

from trainer.config.record import check_same_config
from trainer.errors import ConfigError, TrainerError
from trainer.files import write_atomically
from trainer.loop.batching import StreamBatches
from trainer.loop.runtime import Runtime

log = logging.getLogger(__name__)


ADDED_SINCE_0_1 = ("logs",)  # parts a checkpoint of trainer 0.1 lacks: restored where it has them


def checkpoint_parts(model, optimizer, step, metrics, actions: dict, data: dict, logs: tf.Variable) -> dict:
    """The parts of a run's checkpoint, by name; `metrics` are the Keras metrics whose running state it keeps,
    `actions` each action's state by its name, `data` a streamed data set's iterator, if any, and `logs` the
    latest logged values, so that a run resumed at its last step reports what it reported."""
    return dict(
        model=model,
        optimizer=optimizer,
        step=step,
        metric_variables=[v for m in metrics for v in m.variables],
        actions=actions,
        rng=tf.random.get_global_generator(),
        logs=logs,
        **data,
    )


def checkpoint_paths(directory: Path) -> list[str]:
    """The checkpoints in `directory`, oldest first, found by their files (`ckpt-<step>.index`) whether or not
    the directory's index (`checkpoint`) still lists them."""
    indexes = sorted(Path(directory).glob("ckpt-*.index"), key=lambda index: int(index.stem.rsplit("-", 1)[1]))
    return [str(index.with_suffix("")) for index in indexes]


def restore_latest(parts: dict, directory: Path) -> str | None:
    """Restore the newest checkpoint in `directory` that can be read, reporting each one that cannot by
    name; None where the directory has none. A directory whose index was lost is indexed anew."""
    paths = checkpoint_paths(directory)
    if not paths:
        return None
    for path in reversed(paths):
        try:
            names = {name.split("/")[0] for name, _ in tf.train.list_variables(path)}
            present = {name: part for name, part in parts.items() if name in names or name not in ADDED_SINCE_0_1}
            tf.train.Checkpoint(**present).restore(path).assert_existing_objects_matched()
        except Exception as error:  # the reader raises many kinds for a truncated or foreign file
            log.warning("checkpoint %s cannot be read (%s); trying the one before", path, str(error).splitlines()[0])
            continue
        if tf.train.get_checkpoint_state(str(directory)) is None:
            log.warning(
                "%s lost its index (%s/checkpoint): resuming from %s, the newest readable checkpoint, "
                "and indexing the %d there anew",
                directory,
                directory,
                Path(path).name,
                len(paths),
            )
            write_index(Path(directory), Path(path).name, paths)
        return path
    raise TrainerError(f"no checkpoint in {directory} can be read; move it away to start afresh")


def write_index(directory: Path, latest: str, paths: list[str]) -> None:
    """The index TensorFlow's CheckpointManager keeps (`checkpoint`, a CheckpointState in text format), listing
    `paths` with their files' times so that the manager goes on to keep only the newest of them."""
    lines = [f'model_checkpoint_path: "{latest}"']
    lines += [f'all_model_checkpoint_paths: "{Path(path).name}"' for path in paths]
    lines += [f"all_model_checkpoint_timestamps: {Path(path + '.index').stat().st_mtime}" for path in paths]
    lines.append("last_preserved_timestamp: 0.0")
    write_atomically(directory / "checkpoint", "\n".join(lines) + "\n")


def restore(cfg: DictConfig, checkpointed: dict, resume_from: Path | None) -> str | None:
    """Restore the newest readable checkpoint in `resume_from`, refusing one of other settings; return its
    path, or None where there is none."""
    if resume_from is None or not checkpoint_paths(resume_from):
        return None
    check_same_config(cfg, resume_from)
    return restore_latest(checkpointed, resume_from)


def check_workers_agree(runtime: Runtime, step: int, resume_from: Path | None, batches) -> None:
    """Refuse, on every worker alike, to go on from different steps, or with a stream restored from another
    worker's checkpoints (its place in the data is that worker's shard's)."""
    if not runtime.same_on_every_worker(step):
        raise ConfigError(
            f"the workers restored different steps (this one {step}, from {resume_from}): every worker "
            "needs the run directory's checkpoints; start them all in the same hydra.run.dir"
        )
    foreign = runtime.worker is not None and step > 0 and resume_from.parent.name != f".{runtime.worker}"
    if runtime.any_worker(foreign and isinstance(batches, StreamBatches)):
        raise ConfigError(
            "a streamed data set resumes on each worker from its own checkpoints (<run dir>/.worker_<i>), "
            "and a worker has none: start the run afresh in a new hydra.run.dir"
        )
