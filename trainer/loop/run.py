"""A run's parts and state, built once by `build_training` and handed to every action: what the controller
drives, what actions read and write, and what the benchmarks time."""

from dataclasses import dataclass, field
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import DictConfig

from trainer.data import Splits
from trainer.loop.runtime import Runtime


@dataclass
class Run:
    cfg: DictConfig
    output_dir: Path
    runtime: Runtime
    task: object  # trainer.task.Task
    model: object
    loss_fn: object
    optimizer: keras.optimizers.Optimizer
    schedule: object  # a Keras LearningRateSchedule or callback, or None
    metrics: dict  # name -> Keras metric, updated by the train step
    data: Splits  # its train split without the validation examples, which `validation` holds
    validation: tuple | None  # (x, y) held out from the training examples
    step: tf.Variable  # steps taken: also the data position
    loss_mean: keras.metrics.Mean
    train_loop: object  # train_loop(num_steps) -> (last gradient norm, last loss)
    evaluate: object  # evaluate(examples, batch_size) -> {"loss": ..., metric: ...}
    total_steps: int
    steps_per_epoch: int
    actions: list  # trainer.actions.base.Action, in the order they run
    checkpoint: tf.train.Checkpoint
    resumed: str | None  # the checkpoint restored, if any
    done: int = 0  # steps taken, as of the last compiled call
    outputs: tuple = ()  # what the last compiled call returned: (gradient norm, loss)
    logs: dict = field(default_factory=dict)  # the latest value of each logged tag: train/loss, val/accuracy, ...
    saved_logs: tf.Variable | None = None  # `logs` as JSON, written into each checkpoint
    results: dict = field(default_factory=dict)  # what metrics.json will hold
    stop: str | None = None  # why the loop should end before its last step, once an action decides it
    batch_size: int | None = None  # the global batch: trainer.batch_size, or all the examples where they are fewer
