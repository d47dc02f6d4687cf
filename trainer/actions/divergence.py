"""Stop at the first loss that is not finite (the compiled loop breaks there), naming the step and the last
good checkpoint, which is kept; metrics.json records the error for a sweep's summary."""

import math

import tensorflow as tf

from trainer.actions.base import Action
from trainer.errors import Diverged
from trainer.outputs.metrics import write_metrics


class StopOnDivergence(Action):
    def due(self, run) -> bool:
        return True  # after every compiled call

    def step(self, run) -> None:
        loss = float(run.outputs[1])
        if math.isfinite(loss):
            return
        last = tf.train.latest_checkpoint(str(run.output_dir / "checkpoints"))
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written before it"
        message = (
            f"the loss became {loss} at step {run.done}: the learning rate "
            f"({float(run.optimizer.learning_rate.numpy()):g}) is likely too large for this problem, or the loss "
            f"overflows; {kept}"
        )
        if run.runtime.is_writer:
            write_metrics(run.output_dir, {"loss": None, "steps": run.done, "error": message})
        raise Diverged(message)
