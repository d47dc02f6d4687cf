"""`train(cfg) -> metrics`: build the configured run, then let the controller (trainer/controller.py) drive
it; everything a run writes goes to `cfg.output_dir`, by the actions of conf/config.yaml's `actions`.

`build_training` builds every part inside the runtime's strategy scope before the first compiled call:
the task's data, model, loss and metrics, the optimizer and its slots, the step counter, the actions'
state, and the checkpoint of them all, restored where the run resumes.
"""
import copy
import dataclasses
import logging
import shutil
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import DictConfig

from trainer.checkpoints import check_same_config, claimed, make_checkpoint, record_config, restore_latest
from trainer.checks import build, check_config
from trainer.controller import run_loop
from trainer.data import StreamBatches, global_batch_size, make_batches
from trainer.errors import ConfigError
from trainer.metrics import read_metrics
from trainer.optimizers import ClosureOptimizer
from trainer.run import Run
from trainer.runtime import Runtime, check_distributable, lost_workers_reported, weights_digest
from trainer.step import make_evaluate, make_train_loop, make_train_step
from trainer.validation import split_validation

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict:
    """Train as configured and return the final metrics (also written to `metrics.json`).

    A run continues from the newest checkpoint in its own directory, or in `trainer.resume`'s, under the
    same configuration; a finished run is left as it is. A directory in use by a live run is refused.
    """
    check_config(cfg)
    runtime = make_runtime(cfg)  # first: a cluster or logical devices must be set up before TensorFlow starts
    run_dir = Path(cfg.output_dir)
    if runtime.worker is not None:  # a worker other than the chief writes only into a folder of its own
        cfg = copy.deepcopy(cfg)  # deep: interpolations such as ${output_dir} then resolve to the new one
        cfg.output_dir = str(run_dir / f".{runtime.worker}")
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    with claimed(Path(cfg.output_dir)):
        log.info("run directory: %s", run_dir)
        log.info("devices: %s", ", ".join(device.name for device in tf.config.list_physical_devices()))
        run = build_training(cfg, checkpoints_to_resume(cfg, run_dir), runtime)
        finished = read_metrics(run_dir)
        if run.resumed and run.done >= run.total_steps and finished is not None and "error" not in finished:
            log.info("the run in %s finished at step %d of %d; its results are kept as they are",
                     run_dir, run.done, run.total_steps)
            results = finished
        else:
            if run.resumed:
                log.info("resumed from %s at step %d of %d", run.resumed, run.done, run.total_steps)
            if runtime.is_writer:
                record_config(cfg, run_dir / "checkpoints")
            with lost_workers_reported(run):
                results = run_loop(run)
            if runtime.in_cluster:
                log.info("final weights: sha256 %s (the same on every worker)", weights_digest(run.model.get_weights()))
    if runtime.worker is not None:
        shutil.rmtree(cfg.output_dir, ignore_errors=True)  # its checkpoints served the run, which has ended
    return results


def checkpoints_to_resume(cfg: DictConfig, run_dir: Path) -> Path:
    """Where a run resumes from: `trainer.resume`'s checkpoints, or the run directory's. A worker other than
    the chief resumes from its own where it has them, since they hold its own place in a streamed data set."""
    own = Path(cfg.output_dir) / "checkpoints"
    if Path(cfg.output_dir) != run_dir and tf.train.get_checkpoint_state(str(own)) is not None:
        return own
    return Path(cfg.trainer.resume or run_dir) / "checkpoints"


def make_runtime(cfg: DictConfig) -> Runtime:
    """The runtime of the `distribute` section."""
    return Runtime.of(build(cfg.distribute, "distribute"))


def build_training(cfg: DictConfig, resume_from: Path | None = None, runtime: Runtime | None = None) -> Run:
    """Seed, build the configured run under `runtime` (the config's own by default), restore the newest
    checkpoint in `resume_from` if there is one, and compile the train loop; no step is run."""
    if runtime is None:  # called by itself, not by `train`
        check_config(cfg)
        runtime = make_runtime(cfg)
    settings = cfg.trainer
    keras.utils.set_random_seed(settings.seed)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    tf.random.set_global_generator(tf.random.Generator.from_seed(settings.seed))  # checkpointed with the run
    keras.mixed_precision.set_global_policy(settings.precision)
    with runtime.strategy.scope():
        task = build(cfg.task, "task")
        parts = task.build(cfg)
        train_examples, validation = parts.data.train, None
        if settings.validation_split is not None:
            train_examples, validation = split_validation(parts.data.train, settings.validation_split)
        schedule = build(cfg.schedule, "schedule") if cfg.schedule else None
        optimizer = build_optimizer(cfg, schedule)
        batch_size = global_batch_size(train_examples, settings.batch_size)
        check_distributable(cfg, runtime, optimizer, parts.loss_fn, batch_size)
        batches = make_batches(train_examples, settings.batch_size, settings.seed, runtime.strategy)
        optimizer.build(parts.model.trainable_variables)  # every variable exists before the first compiled call
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        loss_mean = keras.metrics.Mean(name="loss")
        actions = {name: build(node, f"actions.{name}") for name, node in cfg.actions.items()}
        checkpoint = make_checkpoint(parts.model, optimizer, step, [loss_mean, *parts.metrics.values()],
                                     {name: action.state() for name, action in actions.items()},
                                     batches.checkpointed())
    resumed = None
    if resume_from is not None:
        check_same_config(cfg, resume_from)
        resumed = restore_latest(checkpoint, resume_from)  # before the batches: tf.data starts at the step
    if runtime.in_cluster:
        check_workers_agree(runtime, int(step.numpy()), resume_from, batches)
    jit_compile = not settings.deterministic if settings.jit_compile is None else settings.jit_compile
    train_step = make_train_step(parts.model, parts.loss_fn, optimizer, parts.metrics, runtime.replicas)
    train_loop = make_train_loop(runtime.strategy, train_step, batches, settings.pipeline, step, loss_mean, optimizer,
                                 jit_compile=jit_compile and runtime.replicas == 1)
    evaluate = make_evaluate(parts.model, parts.loss_fn,
                             {name: build(metric, f"metrics.{name}") for name, metric in cfg.metrics.items()})
    data = dataclasses.replace(parts.data, train=train_examples)  # what validation leaves for training
    return Run(cfg, Path(cfg.output_dir), runtime, task, parts.model, parts.loss_fn, optimizer, schedule,
               parts.metrics, data, validation, step, loss_mean, train_loop, evaluate,
               settings.steps or settings.epochs * batches.steps_per_epoch, batches.steps_per_epoch,
               list(actions.values()), checkpoint, resumed, done=int(step.numpy()), batch_size=batch_size)


def check_workers_agree(runtime: Runtime, step: int, resume_from: Path | None, batches) -> None:
    """Refuse, on every worker alike, to go on from different steps, or with a stream restored from another
    worker's checkpoints (its place in the data is that worker's shard's)."""
    if not runtime.same_on_every_worker(step):
        raise ConfigError(f"the workers restored different steps (this one {step}, from {resume_from}): every worker "
                          "needs the run directory's checkpoints; start them all in the same hydra.run.dir")
    foreign = runtime.worker is not None and step > 0 and resume_from.parent.name != f".{runtime.worker}"
    if runtime.any_worker(foreign and isinstance(batches, StreamBatches)):
        raise ConfigError("a streamed data set resumes on each worker from its own checkpoints (<run dir>/.worker_<i>), "
                          "and a worker has none: start the run afresh in a new hydra.run.dir")


def build_optimizer(cfg: DictConfig, schedule) -> keras.optimizers.Optimizer:
    """The configured optimizer: on the schedule where it is a Keras one, loss-scaled under mixed_float16."""
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        optimizer = build(cfg.optimizer, "optimizer", learning_rate=schedule)
    else:
        optimizer = build(cfg.optimizer, "optimizer")
    if cfg.trainer.precision != "mixed_float16":
        return optimizer
    if isinstance(optimizer, ClosureOptimizer):
        raise ConfigError(
            f"trainer.precision=mixed_float16 needs loss scaling, which {cfg.optimizer._target_} "
            "does not do; use float32 or mixed_bfloat16"
        )
    return keras.optimizers.LossScaleOptimizer(optimizer)
