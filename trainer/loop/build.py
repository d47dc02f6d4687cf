"""`build_training`: every part of a run built inside the runtime's strategy scope before the first compiled
call: the data, model, loss and metrics, the optimizer and its slots, the step counter, the actions' state,
and the checkpoint of them all, restored where the run resumes; then the compiled train loop.
"""

import dataclasses
import json
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import DictConfig

from trainer.config.build import build
from trainer.config.checks import check_config, check_distributable
from trainer.config.record import check_same_config
from trainer.errors import ConfigError
from trainer.loop.batching import StreamBatches, global_batch_size, hold_out, make_batches
from trainer.loop.checkpoints import checkpoint_parts, checkpoint_paths, restore_latest
from trainer.loop.evaluate import make_evaluate
from trainer.loop.run import Run
from trainer.loop.runtime import Runtime
from trainer.loop.step import make_train_loop, make_train_step
from trainer.optimizers import ClosureOptimizer
from trainer.task import Parts


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
    # run.logs as JSON, as of the checkpoint; outside the strategy's scope, which cannot broadcast a string
    saved_logs = tf.Variable("{}", trainable=False, name="logs")
    with runtime.strategy.scope():
        task = build(cfg.task, "task")
        parts = task.check(build_parts(cfg))
        train_examples, validation = parts.data.train, None
        if settings.validation_split is not None:
            train_examples, validation = hold_out(parts.data.train, settings.validation_split)
        schedule = build(cfg.schedule, "schedule") if cfg.schedule else None
        optimizer = build_optimizer(cfg, schedule)
        batch_size = global_batch_size(train_examples, settings.batch_size)
        check_distributable(cfg, runtime.replicas, optimizer, parts.loss_fn, batch_size)
        batches = make_batches(train_examples, settings.batch_size, settings.seed, runtime.strategy)
        optimizer.build(parts.model.trainable_variables)  # every variable exists before the first compiled call
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        loss_mean = keras.metrics.Mean(name="loss")
        actions = {name: build(node, f"actions.{name}") for name, node in cfg.actions.items()}
        checkpointed = checkpoint_parts(
            parts.model,
            optimizer,
            step,
            [loss_mean, *parts.metrics.values()],
            {name: action.state() for name, action in actions.items()},
            batches.checkpointed(),
            saved_logs,
        )
        checkpoint = tf.train.Checkpoint(**checkpointed)
    resumed = None
    if resume_from is not None and checkpoint_paths(resume_from):
        check_same_config(cfg, resume_from)
        resumed = restore_latest(checkpointed, resume_from)  # before the batches: tf.data starts at the step
    if runtime.in_cluster:
        check_workers_agree(runtime, int(step.numpy()), resume_from, batches)
    jit_compile = not settings.deterministic if settings.jit_compile is None else settings.jit_compile
    train_step = make_train_step(parts.model, parts.loss_fn, optimizer, parts.metrics, runtime.replicas)
    train_loop = make_train_loop(
        runtime.strategy,
        train_step,
        batches,
        settings.pipeline,
        step,
        loss_mean,
        optimizer,
        jit_compile=jit_compile and runtime.replicas == 1,
    )
    evaluate = make_evaluate(
        parts.model, parts.loss_fn, {name: build(metric, f"metrics.{name}") for name, metric in cfg.metrics.items()}
    )
    data = dataclasses.replace(parts.data, train=train_examples)  # what validation leaves for training
    return Run(
        cfg,
        Path(cfg.output_dir),
        runtime,
        task,
        parts.model,
        parts.loss_fn,
        optimizer,
        schedule,
        parts.metrics,
        data,
        validation,
        step,
        loss_mean,
        train_loop,
        evaluate,
        settings.steps or settings.epochs * batches.steps_per_epoch,
        batches.steps_per_epoch,
        list(actions.values()),
        checkpoint,
        resumed,
        done=int(step.numpy()),
        logs=json.loads(saved_logs.numpy()),
        saved_logs=saved_logs,
        batch_size=batch_size,
    )


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


def build_parts(cfg: DictConfig) -> Parts:
    """The data, model, loss and metrics of the config's sections."""
    return Parts(
        data=build(cfg.data, "data"),
        model=build(cfg.model, "model"),
        loss_fn=build(cfg.loss, "loss"),
        metrics={name: build(metric, f"metrics.{name}") for name, metric in cfg.metrics.items()},
    )


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
