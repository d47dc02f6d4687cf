"""Where a run executes: the `tf.distribute` strategy of the `distribute` config group, in whose scope every
variable is built, and this process's part in it. On one device it is TensorFlow's default strategy and
the only process, which costs nothing.

With several workers (`distribute=multi_worker`), every worker runs every step and every action, since
reading a metric or saving a checkpoint takes part in collective operations, and the workers agree on
when to stop. Only the chief writes what the run leaves behind (event files, pictures, metrics.json, the
exported model) in the run directory; each other worker's run directory is a folder of its own inside it,
`.worker_<i>`, for its checkpoints (TensorFlow's multi-worker rule: every worker saves) and anything its
callbacks write, removed when the run ends.
"""

import hashlib
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from trainer.errors import WorkerLost

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    strategy: tf.distribute.Strategy
    is_writer: bool = True
    worker: str | None = None  # "worker_1", ...: this process's place in a cluster, where it is not the chief

    @classmethod
    def of(cls, strategy: tf.distribute.Strategy) -> "Runtime":
        runtime = cls(strategy, strategy.extended.should_checkpoint)
        if not runtime.is_writer:
            runtime.worker = "_".join(runtime.job_index)
        return runtime

    @property
    def job_index(self) -> tuple[str, str] | None:
        """This process's (job, index) in its cluster, as TensorFlow's device names spell them."""
        resolver = getattr(self.strategy, "cluster_resolver", None)
        return None if resolver is None or resolver.task_type is None else (resolver.task_type, str(resolver.task_id))

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    @property
    def in_cluster(self) -> bool:
        """Whether this process is one task of a cluster (distribute=multi_worker or tpu)."""
        return self.job_index is not None

    def summary_writer(self, directory):
        """The run's event-file writer; a no-op one where this process does not write."""
        return tf.summary.create_file_writer(str(directory)) if self.is_writer else tf.summary.create_noop_writer()

    def mean_over_workers(self, values: list[float]) -> np.ndarray:
        """The mean of each of `values` over every worker of the cluster (a collective: all must call it)."""
        local = tf.constant(values, tf.float64)
        per_replica = self.strategy.experimental_distribute_values_from_function(lambda _: local)
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None).numpy()

    def any_worker(self, flag: bool) -> bool:
        """Whether `flag` is true on any worker: so that every worker takes the same branch."""
        return bool(self.mean_over_workers([float(flag)])[0] > 0)

    def same_on_every_worker(self, value: int) -> bool:
        mean, mean_square = self.mean_over_workers([value, value * value])
        return mean_square - mean * mean < 0.5  # the variance of integers that are not all equal is more


@contextmanager
def lost_workers_reported(runtime: "Runtime", loop):
    """In a multi-worker run, a collective operation that fails for want of another worker (after the
    `distribute.timeout_seconds` it may wait) becomes one `WorkerLost` line naming the workers it names."""
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as error:
        if not runtime.in_cluster:
            raise
        named = sorted(set(re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", error.message)) - {runtime.job_index})
        reason = f"{type(error).__name__} naming {', '.join(f'{job} {index}' for job, index in named) or 'no task'}"
        raise WorkerLost(
            f"a worker of this multi-worker run stopped answering ({reason}); stopped at step "
            f"{loop.done}: start every worker again to resume from the last checkpoint"
        ) from error


def weights_digest(weights: list) -> str:
    """A fingerprint of a model's weights, which the workers of a multi-worker run log to show they agree."""
    digest = hashlib.sha256()
    for array in weights:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
