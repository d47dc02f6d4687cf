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

import keras
import numpy as np
import tensorflow as tf
from omegaconf import DictConfig

from trainer.errors import ConfigError, WorkerLost
from trainer.optimizers import ClosureOptimizer

log = logging.getLogger(__name__)
MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")  # Keras divides these by R itself
CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")  # Keras applies them before its sum over replicas


@dataclass
class Runtime:
    strategy: tf.distribute.Strategy
    is_writer: bool = True
    worker: str | None = None  # "worker_1", ...: this process's place in a cluster, where it is not the chief

    @classmethod
    def of(cls, strategy: tf.distribute.Strategy) -> "Runtime":
        runtime = cls(strategy, strategy.extended.should_checkpoint)
        if not runtime.is_writer:
            runtime.worker = "_".join(runtime.task)
        return runtime

    @property
    def task(self) -> tuple[str, str] | None:
        """This process's (job, index) in its cluster, as TensorFlow's device names spell them."""
        resolver = getattr(self.strategy, "cluster_resolver", None)
        return None if resolver is None or resolver.task_type is None else (resolver.task_type, str(resolver.task_id))

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    @property
    def in_cluster(self) -> bool:
        """Whether this process is one task of a cluster (distribute=multi_worker or tpu)."""
        return self.task is not None

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


def check_distributable(cfg: DictConfig, runtime: Runtime, optimizer, loss_fn, batch_size: int | None) -> None:
    """Refuse, in one line, what does not run over several replicas; log how the global batch of
    `batch_size` examples is split (None: the run has no data)."""
    replicas = runtime.replicas
    if replicas == 1:
        return
    where = f"distribute={cfg.distribute._target_.rsplit('.', 1)[-1]} runs {replicas} replicas"
    if isinstance(optimizer, ClosureOptimizer):
        raise ConfigError(f"optimizer: {cfg.optimizer._target_} evaluates the loss more than once per step, which a "
                          f"step split over replicas cannot; {where}: choose a gradient optimizer such as "
                          "optimizer=adam, or distribute=none")
    if cfg.trainer.jit_compile:
        raise ConfigError(f"trainer.jit_compile=true: XLA compiles one device's step, and {where}; leave it null")
    if isinstance(loss_fn, keras.losses.Loss) and loss_fn.reduction not in MEAN_REDUCTIONS:
        raise ConfigError(f"loss.reduction={loss_fn.reduction}: each replica's share of a global batch's loss is "
                          f"known for a mean, and {where}: use sum_over_batch_size, or distribute=none")
    while optimizer is not None:  # through the wrappers: loss scaling, SWA, Lookahead, ...
        for option in CLIPPING:
            if getattr(optimizer, option, None) is not None:
                raise ConfigError(f"optimizer {option}: Keras clips each replica's share of the gradient before it "
                                  f"sums them, which is not the clipping of the whole batch's gradient, and {where}; "
                                  "leave it unset, or distribute=none")
        optimizer = getattr(optimizer, "inner_optimizer", None)
    if batch_size is not None and batch_size % replicas:
        raise ConfigError(f"trainer.batch_size={batch_size} is the global batch (at most the training examples), split "
                          f"evenly over replicas, and {where}: choose a multiple of {replicas}")
    if batch_size is not None:
        log.info("%d replicas: a global batch of %d, %d per replica", replicas, batch_size, batch_size // replicas)


@contextmanager
def lost_workers_reported(run):
    """In a multi-worker run, a collective operation that fails for want of another worker (after the
    `distribute.timeout_seconds` it may wait) becomes one `WorkerLost` line naming the workers it names."""
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as error:
        if not run.runtime.in_cluster:
            raise
        tasks = sorted(set(re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", error.message)) - {run.runtime.task})
        reason = f"{type(error).__name__} naming {', '.join(f'{job} {index}' for job, index in tasks) or 'no task'}"
        raise WorkerLost(f"a worker of this multi-worker run stopped answering ({reason}); stopped at step "
                         f"{run.done}: start every worker again to resume from the last checkpoint") from error


def weights_digest(weights: list) -> str:
    """A fingerprint of a model's weights, which the workers of a multi-worker run log to show they agree."""
    digest = hashlib.sha256()
    for array in weights:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
