"""A run as the controller and the actions see it: `Run`, what `build_training` built (never changed once
built: the parts, the compiled loop, the actions, the checkpoint), and `Loop`, the state the controller
advances (the step reached, the last call's outputs, the stop) and the actions report into (`logs`)."""

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import tensorflow as tf
from omegaconf import DictConfig

from trainer.data import Splits
from trainer.files import yaml_text
from trainer.loop.evaluate import Evaluator
from trainer.loop.points import Points
from trainer.loop.runtime import Runtime
from trainer.loop.step import StepBody
from trainer.scalar import ScalarProblem
from trainer.task import Task

FINAL = "final/"  # the logs of a run's final numbers: metrics.json, and the HParams dashboard's metric columns
STEP_SECONDS = "time/step_seconds"  # the logged seconds of steps alone: what a comparison's seconds to target count


@dataclass(frozen=True, kw_only=True)
class Run:
    cfg: DictConfig
    resolved: dict  # cfg resolved, as plain data (trainer/loop/reuse.py's resolved_config)
    output_dir: Path
    runtime: Runtime
    task: Task
    model: keras.Model | ScalarProblem
    loss_fn: Callable
    optimizer: keras.optimizers.Optimizer
    schedule: keras.optimizers.schedules.LearningRateSchedule | keras.callbacks.Callback | None
    metrics: dict[str, keras.metrics.Metric]  # updated by the train step
    data: Splits  # its train split without the examples `held_out` holds
    held_out: tuple | None  # (x, y) held out from the training examples by trainer.validation_split
    global_step: tf.Variable  # steps taken: also the data position
    loss_mean: keras.metrics.Mean  # the train loss since the last log point
    train_loop: Callable[[tf.Tensor], tuple]  # steps -> (last gradient norm, last loss, log points passed)
    step_body: StepBody  # its steps as a population's loop takes them beside its other runs' (loop/step.py)
    points: Points  # the log points of the last call (trainer/loop/points.py)
    evaluate: Evaluator
    total_steps: int
    steps_per_epoch: int
    batch_size: int | None  # the global batch: trainer.batch_size, or all the examples where they are fewer
    batches: object  # trainer.loop.batching's: where each step's batch comes from
    actions: tuple  # trainer.actions.base.Action, in the order of their phases
    checkpoint: tf.train.Checkpoint
    saved_logs: tf.Variable  # Loop.logs as JSON, written into each checkpoint
    resumed: str | None  # the checkpoint restored, if any
    graph_of: Callable | None = None  # the compiled loop whose graph stands for its own, if not `train_loop`

    @functools.cached_property
    def config_text(self) -> str:
        """cfg resolved, as YAML: what checkpoints/config.yaml and the Text dashboard hold, dumped once."""
        return yaml_text(self.resolved)

    @property
    def eval_every(self) -> int | None:
        """Steps between validation passes (trainer.eval_every, else an epoch's); None where none is held out."""
        return None if self.held_out is None else self.cfg.trainer.eval_every or self.steps_per_epoch

    def first_batch(self) -> tuple:
        """The first trainer.batch_size training examples as (x, y), what the diagnostics probe; (None, None)
        for a scalar problem, which has no data."""
        train, size = self.data.train, self.cfg.trainer.batch_size
        if isinstance(train, tf.data.Dataset):  # streamed: the stream's first examples, read once
            return tuple(next(iter(train.take(size).batch(size))))
        return (None, None) if train is None else tuple(a[:size] for a in train)


@dataclass(kw_only=True)
class Loop:
    done: int  # steps taken, as of the last compiled call
    outputs: tuple = ()  # what the last compiled call returned: (gradient norm, loss, log points passed)
    logs: dict = field(default_factory=dict)  # the latest value of each logged tag, and final/<name> numbers
    stop: str | None = None  # why the loop ends before its last step, once something decided it
    step_seconds: float = 0.0  # wall seconds inside the compiled calls that took steps, over every resume
    compile_seconds: float = 0.0  # this process's tracing and compilation of the loop (0 where reused)

    @classmethod
    def of(cls, run: Run) -> "Loop":
        """The loop where `run` stands: at its restored step, with the logs of its checkpoint."""
        logs = json.loads(run.saved_logs.numpy())
        return cls(done=int(run.global_step.numpy()), logs=logs, step_seconds=logs.get(STEP_SECONDS, 0.0))

    def results(self) -> dict:
        """The run's final numbers, as metrics.json holds them."""
        return {tag.removeprefix(FINAL): value for tag, value in self.logs.items() if tag.startswith(FINAL)}
