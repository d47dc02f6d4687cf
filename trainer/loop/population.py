"""Populations: runs of one structure (trainer/loop/reuse.py: they differ only in values, such as a learning
rate, a seed or a starting point) that advance together, in one compiled program that takes every run's
steps. Each run keeps its own parts (variables, optimizer, data order), actions, directory, event file,
checkpoints and metrics.json, so summaries, HParams, resuming and the comparison's report see ordinary runs,
and each run's steps are the operations of the run alone: its numbers are the run alone's, bit for bit under
`trainer.deterministic=true` (XLA, which compiles the population's program as one, may round otherwise).

One program for many runs costs one Python call per `steps_per_call` steps for all of them, and lets
TensorFlow overlap the runs' independent segments of steps (trainer/loop/loops.py) on the cores: 8 seeds of
the MNIST MLP train at 1.7 times the examples per second of the same runs one after another on 2 cores
(docs/benchmarks.md). A run that stops (its loss no longer finite, early stopping, a pruner) drops out of the
program's later steps; the others go on.
"""

import tensorflow as tf

from trainer.loop.loops import make_train_loop
from trainer.loop.run import Run
from trainer.loop.step import loop_kind


class Population:
    """The compiled loop of `runs`, built apart (trainer/loop/build.py with `reuse=False`), as the controller's
    `drive_together` calls it: `(count, going) -> each run's (gradient norm, loss, log points passed)`."""

    def __init__(self, runs: list[Run]):
        first = runs[0]
        self.active = tf.Variable([True] * len(runs), trainable=False, name="active")
        kind = loop_kind(first.cfg.trainer, first.runtime, first.batches)
        self.train_loop = make_train_loop([run.step_body for run in runs], *kind, self.active)

    def __call__(self, count: tf.Tensor, going=()) -> tuple:
        self.active.assign([index in going for index in range(int(self.active.shape[0]))])
        return self.train_loop(count)
