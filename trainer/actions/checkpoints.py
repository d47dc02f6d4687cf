"""Checkpoints: the run is saved every `trainer.checkpoint_every` steps, at its last step, and when it stops
early (an action decided it, or SIGINT or SIGTERM arrived: the controller then ends the command with a line
that says how to resume). `trainer.keep_checkpoints` of them are kept in <run dir>/checkpoints; each holds the
loop's logs too, so that a run resumed at its last step reports what it reported."""

import json

import tensorflow as tf

from trainer.actions.base import Action
from trainer.errors import OutputError


class Checkpoints(Action):
    phase = "save"

    def begin(self, run, loop) -> None:
        settings = run.cfg.trainer
        self.every = settings.checkpoint_every or run.total_steps
        self.manager = tf.train.CheckpointManager(
            run.checkpoint, str(run.output_dir / "checkpoints"), settings.keep_checkpoints
        )

    def due(self, run, loop) -> bool:
        return super().due(run, loop) or loop.stop is not None

    def act(self, run, loop) -> None:
        run.saved_logs.assign(json.dumps(loop.logs))
        try:
            self.manager.save(checkpoint_number=loop.done)
        except (tf.errors.OpError, OSError) as error:  # no space, no permission: the last checkpoint is intact
            raise OutputError(self.manager.directory, str(error).splitlines()[0]) from error
