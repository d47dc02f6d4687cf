"""Pictures at the end of a run (`logging.pictures`): the task's (a landscape with the path, misclassified
examples, a confusion matrix), each logged as a TensorBoard image and saved as <run dir>/<name>.png."""

from trainer.actions.base import Action
from trainer.files import write_atomically
from trainer.outputs.pictures import log_png


class Pictures(Action):
    phase = "draw"

    def end(self, run, loop) -> None:
        if not run.cfg.logging.pictures or not run.runtime.is_writer:
            return
        for name, data in run.task.pictures(run, loop).items():
            write_atomically(run.output_dir / f"{name}.png", data)
            log_png(name, data, loop.done)
