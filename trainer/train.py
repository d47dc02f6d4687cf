"""`train(cfg) -> metrics`: build the configured run, then let the controller (trainer/controller.py) drive
it; everything a run writes goes to `cfg.output_dir`, by the actions of conf/config.yaml's `actions`.

`build_training` builds every part inside the runtime's strategy scope before the first compiled call:
the task's data, model, loss and metrics, the optimizer and its slots, the step counter, the actions'
state, and the checkpoint of them all, restored where the run resumes.
"""
import logging
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import DictConfig

from trainer.checkpoints import check_same_config, claimed, make_checkpoint, record_config, restore_latest
from trainer.checks import build, check_config
from trainer.controller import run_loop
from trainer.data import make_batches
from trainer.errors import ConfigError
from trainer.metrics import read_metrics
from trainer.optimizers import ClosureOptimizer
from trainer.run import Run
from trainer.runtime import Runtime
from trainer.step import make_evaluate, make_train_loop, make_train_step
from trainer.validation import split_validation

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict:
    """Train as configured and return the final metrics (also written to `metrics.json`).

    A run continues from the newest checkpoint in its own directory, or in `trainer.resume`'s, under the
    same configuration; a finished run is left as it is. A directory in use by a live run is refused.
    """
    output_dir = Path(cfg.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with claimed(output_dir):
        log.info("run directory: %s", output_dir)
        log.info("devices: %s", ", ".join(device.name for device in tf.config.list_physical_devices()))
        run = build_training(cfg, Path(cfg.trainer.resume or output_dir) / "checkpoints")
        finished = read_metrics(output_dir)
        if run.resumed and run.done >= run.total_steps and finished is not None and "error" not in finished:
            log.info("the run in %s finished at step %d of %d; its results are kept as they are",
                     output_dir, run.done, run.total_steps)
            return finished
        if run.resumed:
            log.info("resumed from %s at step %d of %d", run.resumed, run.done, run.total_steps)
        record_config(cfg, output_dir / "checkpoints")
        return run_loop(run)


def build_training(cfg: DictConfig, resume_from: Path | None = None) -> Run:
    """Seed, build the configured run, restore the newest checkpoint in `resume_from` if there is one, and
    compile the train loop; no step is run."""
    check_config(cfg)
    settings = cfg.trainer
    keras.utils.set_random_seed(settings.seed)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    tf.random.set_global_generator(tf.random.Generator.from_seed(settings.seed))  # checkpointed with the run
    keras.mixed_precision.set_global_policy(settings.precision)
    runtime = Runtime.local()
    with runtime.strategy.scope():
        task = build(cfg.task, "task")
        parts = task.build(cfg)
        train_examples, validation = parts.data.train, None
        if settings.validation_split is not None:
            train_examples, validation = split_validation(parts.data.train, settings.validation_split)
        schedule = build(cfg.schedule, "schedule") if cfg.schedule else None
        optimizer = build_optimizer(cfg, schedule)
        batches = make_batches(train_examples, settings.batch_size, settings.seed)
        optimizer.build(parts.model.trainable_variables)  # every variable exists before the first compiled call
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        loss_mean = keras.metrics.Mean(name="loss")
        actions = {name: build(node, f"actions.{name}") for name, node in cfg.actions.items()}
        checkpoint = make_checkpoint(parts.model, optimizer, step, [loss_mean, *parts.metrics.values()],
                                     {name: action.state() for name, action in actions.items()})
    resumed = None
    if resume_from is not None:
        check_same_config(cfg, resume_from)
        resumed = restore_latest(checkpoint, resume_from)  # before the batches: tf.data starts at the step
    jit_compile = not settings.deterministic if settings.jit_compile is None else settings.jit_compile
    train_loop = make_train_loop(make_train_step(parts.model, parts.loss_fn, optimizer, parts.metrics),
                                 batches.source(settings.pipeline, step), step, loss_mean, jit_compile=jit_compile,
                                 gathers_data=parts.data.train is not None)
    evaluate = make_evaluate(parts.model, parts.loss_fn,
                             {name: build(metric, f"metrics.{name}") for name, metric in cfg.metrics.items()})
    return Run(cfg, Path(cfg.output_dir), runtime, task, parts.model, parts.loss_fn, optimizer, schedule,
               parts.metrics, parts.data, validation, step, loss_mean, train_loop, evaluate,
               settings.steps or settings.epochs * batches.steps_per_epoch, batches.steps_per_epoch,
               list(actions.values()), checkpoint, resumed, done=int(step.numpy()))


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
