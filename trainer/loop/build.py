"""`build_training`: every part of a run built inside the runtime's strategy scope before the first compiled
call: the data, model, loss and metrics, the optimizer and its slots, the step counter, the actions' state,
and the checkpoint of them all, restored where the run resumes; then the compiled train loop.
"""

import dataclasses
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import DictConfig

from trainer.config.build import build, build_named
from trainer.config.checks import check_config, check_distributable
from trainer.errors import ConfigError
from trainer.loop.batching import NoBatches, StreamBatches, global_batch_size, hold_out, make_batches
from trainer.loop.checkpoints import check_workers_agree, checkpoint_parts, restore
from trainer.loop.controller import in_phase_order
from trainer.loop.evaluate import make_evaluate
from trainer.loop.loops import make_loops
from trainer.loop.process import configure_process
from trainer.loop.reuse import REUSABLE, assign_all, digest, fresh_optimizer_values, resolved_config, structure
from trainer.loop.run import Run
from trainer.loop.runtime import Runtime
from trainer.optimizers import ClosureOptimizer
from trainer.task import Parts


def make_runtime(cfg: DictConfig) -> Runtime:
    """The runtime of the `distribute` section."""
    return Runtime.of(build(cfg.distribute, "distribute"))


def build_training(
    cfg: DictConfig, resume_from: Path | None = None, runtime: Runtime | None = None, reuse: bool = True
) -> Run:
    """Seed the process, build the configured run under `runtime` (the config's own by default), restore the
    newest checkpoint in `resume_from` if there is one, and compile the train loop; no step is run. Unless
    `reuse` is false (a population's runs, whose parts must be their own), a run of the same structure built
    earlier in the process lends its parts and program (trainer/loop/reuse.py)."""
    if runtime is None:  # called by itself, not by `train`
        check_config(cfg)
        runtime = make_runtime(cfg)
    settings = cfg.trainer
    configure_process(settings)
    # Loop.logs as JSON, as of the checkpoint; outside the strategy's scope, which cannot broadcast a string
    saved_logs = tf.Variable("{}", trainable=False, name="logs")
    resolved = resolved_config(cfg)
    key = structure(resolved) if reuse and runtime.replicas == 1 and not runtime.in_cluster else None
    cached = REUSABLE.get(key)
    if cached is not None:
        return reused(cached, cfg, resolved, resume_from, saved_logs)
    with runtime.strategy.scope():
        fields, checkpointed = build_in_scope(cfg, runtime, saved_logs)
    batches = fields["batches"]
    resumed = restore(cfg, checkpointed, resume_from)  # before the batches: tf.data starts at the step
    if runtime.in_cluster:
        check_workers_agree(runtime, int(fields["global_step"].numpy()), resume_from, batches)
    step_body, train_loop, points = make_loops(fields, settings, runtime)
    run = Run(
        cfg=cfg,
        resolved=resolved,
        output_dir=Path(cfg.output_dir),
        runtime=runtime,
        train_loop=train_loop,
        step_body=step_body,
        points=points,
        evaluate=make_evaluate(fields["model"], fields["loss_fn"], build_metrics(cfg)),
        total_steps=settings.steps or settings.epochs * batches.steps_per_epoch,
        steps_per_epoch=batches.steps_per_epoch,
        checkpoint=tf.train.Checkpoint(**checkpointed),
        saved_logs=saved_logs,
        resumed=resumed,
        **fields,
    )
    # A stream's iterator, and the tf.data pipeline's counter, start at the step they were built at.
    ahead = isinstance(batches, StreamBatches) or (
        settings.pipeline == "tf.data" and not isinstance(batches, NoBatches)
    )
    REUSABLE.keep(None if ahead else key, run)
    return run


def reused(cached: Run, cfg: DictConfig, resolved: dict, resume_from: Path | None, saved_logs: tf.Variable) -> Run:
    """`cached`, a run of the same structure, with the state a fresh build of `cfg` would have (or its
    checkpoint's), in place: its compiled program is kept (trainer/loop/reuse.py)."""
    with cached.runtime.strategy.scope():
        task = build(cfg.task, "task")
        fresh_model = build(cfg.model, "model")  # drawn from the seeds as a fresh build draws it
        assign_all(cached.model.variables, fresh_model.variables)
        schedule = build(cfg.schedule, "schedule") if cfg.schedule else None
        start = cfg.trainer.seed, digest(fresh_model.variables)
        values = fresh_optimizer_values(cached, lambda: build_optimizer(cfg, schedule), start, schedule is None)
        assign_all(cached.optimizer.variables, values)
        actions = build_named(cfg.actions, "actions")
    for metric in (cached.loss_mean, *cached.metrics.values()):
        metric.reset_state()
    cached.global_step.assign(0)
    cached.batches.restart(cfg.trainer.seed)
    checkpointed = checkpoint_parts(
        cached.model, cached.optimizer, cached.global_step, [cached.loss_mean, *cached.metrics.values()],
        {name: action.state() for name, action in actions.items()}, cached.batches.checkpointed(), saved_logs,
    )  # fmt: skip
    return dataclasses.replace(
        cached,
        cfg=cfg,
        resolved=resolved,
        output_dir=Path(cfg.output_dir),
        task=task,
        schedule=schedule if isinstance(schedule, keras.callbacks.Callback) else cached.schedule,
        total_steps=cfg.trainer.steps or cfg.trainer.epochs * cached.steps_per_epoch,
        actions=in_phase_order(list(actions.values())),
        checkpoint=tf.train.Checkpoint(**checkpointed),
        saved_logs=saved_logs,
        resumed=restore(cfg, checkpointed, resume_from),
    )


def build_in_scope(cfg: DictConfig, runtime: Runtime, saved_logs: tf.Variable) -> tuple[dict, dict]:
    """What the strategy's scope must build: the run's parts (the fields of `Run` they make, its batches among
    them) and the parts of its checkpoint, every variable made before the first compiled call."""
    settings = cfg.trainer
    task = build(cfg.task, "task")
    parts = task.check(build_parts(cfg))
    train_examples, held_out = parts.data.train, None
    if settings.validation_split is not None:
        train_examples, held_out = hold_out(parts.data.train, settings.validation_split)
    schedule = build(cfg.schedule, "schedule") if cfg.schedule else None
    optimizer = build_optimizer(cfg, schedule)
    batch_size = global_batch_size(train_examples, settings.batch_size)
    check_distributable(cfg, runtime.replicas, optimizer, parts.loss_fn, batch_size)
    batches = make_batches(train_examples, settings.batch_size, settings.seed, runtime.strategy)
    optimizer.build(parts.model.trainable_variables)
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    loss_mean = keras.metrics.Mean(name="loss")
    actions = build_named(cfg.actions, "actions")
    states = {name: action.state() for name, action in actions.items()}
    checkpointed = checkpoint_parts(
        parts.model, optimizer, global_step, [loss_mean, *parts.metrics.values()], states, batches.checkpointed(),
        saved_logs,
    )  # fmt: skip
    fields = dict(
        task=task,
        model=parts.model,
        loss_fn=parts.loss_fn,
        optimizer=optimizer,
        schedule=schedule,
        metrics=parts.metrics,
        data=dataclasses.replace(parts.data, train=train_examples),  # what validation leaves for training
        held_out=held_out,
        global_step=global_step,
        loss_mean=loss_mean,
        batch_size=batch_size,
        actions=in_phase_order(list(actions.values())),
        batches=batches,
    )
    return fields, checkpointed


def build_metrics(cfg: DictConfig) -> dict:
    """The config's metrics, built anew: each call's apart from another's (the train step's running ones,
    evaluation's own)."""
    return build_named(cfg.metrics, "metrics")


def build_parts(cfg: DictConfig) -> Parts:
    """The data, model, loss and metrics of the config's sections."""
    return Parts(
        data=build(cfg.data, "data"),
        model=build(cfg.model, "model"),
        loss_fn=build(cfg.loss, "loss"),
        metrics=build_metrics(cfg),  # the train step's running ones
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
