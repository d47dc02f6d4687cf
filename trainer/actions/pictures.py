"""Pictures at the end of a run (`logging.pictures`): the task's (a landscape with the path, misclassified
examples, a confusion matrix), each logged as a TensorBoard image and saved as <run dir>/<name>.png; and the
same for the diagnostics' pictures of their logged values (`draw_logged`)."""

import numpy as np

from trainer.actions.base import Action
from trainer.files import write_atomically
from trainer.outputs.events import aligned
from trainer.outputs.pictures import curves_png, log_png


class Pictures(Action):
    phase = "draw"

    def end(self, run, loop) -> None:
        if not run.cfg.logging.pictures or not run.runtime.is_writer:
            return
        for name, data in run.task.pictures(run, loop).items():
            save_picture(run, loop, name, data)


def save_picture(run, loop, name: str, data: bytes) -> None:
    write_atomically(run.output_dir / f"{name}.png", data)
    log_png(name, data, loop.done)


def draw_logged(run, loop, name: str, title: str, curves: dict, reference=None, bands: dict | None = None) -> None:
    """The picture `name` of logged scalars over the run (`logging.pictures`), read back from its event files,
    resumed parts included: `curves` (and `bands`, their standard errors) map labels to tags; `reference` is
    a (label, tag or constant) pair drawn dashed."""
    if not run.cfg.logging.pictures or not run.runtime.is_writer:
        return
    import tensorflow as tf

    tf.summary.flush()
    bands = bands or {}
    logged_reference = reference is not None and isinstance(reference[1], str)
    tags = [*curves.values(), *bands.values(), *([reference[1]] if logged_reference else [])]
    steps, values, _ = aligned(run.output_dir, tags)
    if not len(steps):
        return
    column = {tag: values[:, i] for i, tag in enumerate(tags)}
    lines = {label: column[tag] for label, tag in curves.items()}
    if reference is not None:
        label, source = reference
        reference = (label, column[source] if isinstance(source, str) else np.full(len(steps), float(source)))
    errors = {label: column[tag] for label, tag in bands.items()}
    save_picture(run, loop, name, curves_png(title, steps, lines, reference, errors))
