"""Validation: every `trainer.eval_every` steps (default: each epoch) and at the last step, the examples
held out by `trainer.validation_split` are evaluated and logged as val/<name>. The best checkpoint by
`trainer.monitor` is kept in <run dir>/best; `trainer.patience` evaluations without an improvement of at
least `trainer.min_delta` stop the run early; `trainer.restore_best` puts the best weights back at the end,
before the test evaluation and the model's export."""

import logging

import numpy as np
import tensorflow as tf

from trainer.actions.base import Action, log_scalars
from trainer.loop.run import FINAL
from trainer.outputs.metrics import summarize

log = logging.getLogger("trainer.train")


class Validation(Action):
    def __init__(self):
        self.monitor = Monitor()

    def state(self) -> dict:
        return {"monitor": self.monitor.variables()}

    def begin(self, run, loop) -> None:
        settings = run.cfg.trainer
        if run.held_out is None:
            return
        self.every = run.eval_every
        self.monitor.configure(settings.monitor_mode, settings.min_delta, settings.patience)
        self.best = tf.train.CheckpointManager(run.checkpoint, str(run.output_dir / "best"), max_to_keep=1)

    def act(self, run, loop) -> str | None:
        settings = run.cfg.trainer
        values = run.evaluate(run.held_out, settings.eval_batch_size)
        log_scalars(loop, {f"val/{name}": value for name, value in values.items()})
        log.info("step %d validation %s", loop.done, summarize(values))
        if self.monitor.update(values[settings.monitor], loop.done):
            self.best.save(checkpoint_number=loop.done)
        if not self.monitor.exhausted():
            return None
        log.info("stopped early at step %d: %d validation passes without improvement", loop.done, settings.patience)
        return f"{settings.patience} validation passes without improvement"

    def end(self, run, loop) -> None:
        if run.held_out is None:
            return
        settings = run.cfg.trainer
        final = {f"val_{tag.removeprefix('val/')}": value for tag, value in loop.logs.items() if tag.startswith("val/")}
        final[f"best_val_{settings.monitor}"] = self.monitor.best_value()
        final["best_step"] = int(self.monitor.best_step.numpy())
        if self.monitor.exhausted():
            final["stopped_early_at"] = loop.done
        if settings.restore_best and self.best.latest_checkpoint:
            tf.train.Checkpoint(model=run.model).read(self.best.latest_checkpoint).expect_partial()
            final["tested_weights"] = f"best (step {final['best_step']})"
            log.info("restored the best weights, of step %d by val_%s", final["best_step"], settings.monitor)
        loop.logs.update({FINAL + name: value for name, value in final.items()})


class Monitor:
    """The best value of the monitored metric so far, when it came, and the evaluations since: variables,
    so that they are checkpointed and a resumed run remembers them."""

    def __init__(self):
        self.best = tf.Variable(np.inf, dtype=tf.float64, trainable=False, name="best")
        self.best_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="best_step")
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False, name="wait")
        self.configure("min", 0.0, None)

    def configure(self, mode: str, min_delta: float, patience: int | None) -> None:
        self.sign = 1.0 if mode == "min" else -1.0  # compare sign * value: smaller is better
        self.min_delta, self.patience = min_delta, patience

    def variables(self) -> list[tf.Variable]:
        return [self.best, self.best_step, self.wait]

    def update(self, value: float, step: int) -> bool:
        """Record an evaluation; True where it improved on the best by at least min_delta."""
        improved = self.sign * value < float(self.best.numpy()) - self.min_delta
        if improved:
            self.best.assign(self.sign * value)
            self.best_step.assign(step)
            self.wait.assign(0)
        else:
            self.wait.assign_add(1)
        return improved

    def exhausted(self) -> bool:
        return self.patience is not None and int(self.wait.numpy()) >= self.patience

    def best_value(self) -> float:
        return self.sign * float(self.best.numpy())
