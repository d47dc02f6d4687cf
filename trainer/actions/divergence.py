"""Stop at the first loss that is not finite (the compiled loop breaks there), naming the step and the last
good checkpoint, which is kept; metrics.json records the error for a sweep's summary."""

import math

from trainer.actions.base import Action
from trainer.errors import Diverged
from trainer.loop.checkpoints import checkpoint_paths
from trainer.outputs.metrics import write_metrics


class StopOnDivergence(Action):
    phase = "guard"

    def due(self, run, loop) -> bool:
        return True  # after every compiled call

    def act(self, run, loop) -> None:
        loss = float(loop.outputs[1])
        if math.isfinite(loss):
            return
        saved = checkpoint_paths(run.output_dir / "checkpoints")
        kept = f"the last good checkpoint is {saved[-1]}" if saved else "no checkpoint was written before it"
        message = (
            f"the loss became {loss} at step {loop.done}: the learning rate "
            f"({float(run.optimizer.learning_rate.numpy()):g}) is likely too large for this problem, or the loss "
            f"overflows; {kept}"
        )
        if run.runtime.is_writer:
            write_metrics(run.output_dir, {"loss": None, "steps": loop.done, "error": message})
        raise Diverged(message)
