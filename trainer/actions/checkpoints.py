"""Checkpoints and stop signals: the run is saved every `trainer.checkpoint_every` steps, at its last step,
when it stops early, and when SIGINT or SIGTERM arrives, which then ends the command with a line that says
how to resume. `trainer.keep_checkpoints` of them are kept in <run dir>/checkpoints."""

import json
import signal

import tensorflow as tf

from trainer.actions.base import Action
from trainer.errors import Interrupted, OutputError
from trainer.loop.signals import StopSignals


class Checkpoints(Action):
    signals: StopSignals | None = None  # caught from `begin` on

    def begin(self, run) -> None:
        settings = run.cfg.trainer
        self.every = settings.checkpoint_every or run.total_steps
        self.manager = tf.train.CheckpointManager(
            run.checkpoint, str(run.output_dir / "checkpoints"), settings.keep_checkpoints
        )
        self.signals = StopSignals().__enter__()
        self.stopping = False

    def due(self, run) -> bool:
        self.stopping = self.signals.received is not None
        if run.runtime.in_cluster:  # every worker saves and stops at the same step, whichever got the signal
            self.stopping = run.runtime.any_worker(self.stopping)
        return super().due(run) or run.stop is not None or self.stopping

    def step(self, run) -> None:
        run.saved_logs.assign(json.dumps(run.logs))
        try:
            self.manager.save(checkpoint_number=run.done)
        except (tf.errors.OpError, OSError) as error:  # no space, no permission: the last checkpoint is intact
            raise OutputError(self.manager.directory, str(error).splitlines()[0]) from error
        if self.stopping:
            received = self.signals.received or signal.SIGTERM  # another worker's
            raise Interrupted(
                received,
                f"stopped by {received.name} at step {run.done} of {run.total_steps}; "
                f"checkpoint {self.manager.latest_checkpoint} written: run the same command "
                "to resume",
            )

    def close(self) -> None:
        if self.signals is not None:  # an action before it may have failed in its own begin
            self.signals.__exit__(None, None, None)
