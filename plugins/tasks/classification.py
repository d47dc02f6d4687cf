"""A Keras classifier trained on data, reported and saved as any Keras model (plugins/tasks/keras_model.py):
the pictures are the misclassified test examples (for images) and the confusion matrix, of the first
PICTURED examples where the test split is streamed. Before anything is built further, the labels are checked
against the model's outputs: a label past them would train on nonsense (or NaN) rather than fail."""

import dataclasses

import numpy as np
from trainer.plugins.tasks.keras_model import KerasModelTask

from trainer.data import checked_examples, held_in_memory, is_stream
from trainer.errors import DataError
from trainer.outputs.pictures import confusion_png, misclassified_png

PICTURED = 10000  # the test examples of a streamed split that the pictures show


class ClassificationTask(KerasModelTask):
    def check(self, parts):
        """Labels past the model's outputs are refused: at start where they are known (in-memory, or a stream
        whose plugin counted them), else as a stream reads them."""
        outputs = getattr(parts.model, "output_shape", (None,))[-1]
        if not outputs:
            return parts
        for split in ("train", "test"):
            classes = label_classes(getattr(parts.data, split), parts.data.classes)
            if classes and classes > outputs:
                raise DataError(
                    f"data: the {split} labels go up to {classes - 1}, but model {parts.model.name} has {outputs} "
                    f"outputs (classes 0 to {outputs - 1}); give the model classes={classes}, or check the labels"
                )
        checked = {
            split: checked_examples(examples, f"data.{split}", None, outputs) if is_stream(examples) else examples
            for split, examples in (("train", parts.data.train), ("test", parts.data.test))
        }
        return dataclasses.replace(parts, data=dataclasses.replace(parts.data, **checked))

    def pictures(self, run, loop) -> dict[str, bytes]:
        import tensorflow as tf

        if run.data.test is None:
            return {}
        x, y = test = held_in_memory(run.data.test, PICTURED)
        if y.ndim != 1 or y.dtype.kind not in "iu":
            return {}
        logits = run.evaluate.predict(test, run.cfg.trainer.eval_batch_size)
        predicted = np.argmax(logits, axis=-1)
        pictures = {}
        if x.ndim in (3, 4):  # images: grey (N, H, W) or (N, H, W, channels)
            pictures["misclassified"] = misclassified_png(x, y, predicted)
        pictures["confusion_matrix"] = confusion_png(tf.math.confusion_matrix(y, predicted, logits.shape[-1]).numpy())
        return pictures


def label_classes(examples, stated: int | None) -> int | None:
    """1 + the largest label of in-memory (x, y) examples; a stream's `stated` classes (its plugin's)."""
    if examples is None or is_stream(examples):
        return stated
    labels = np.asarray(examples[1])
    return int(labels.max()) + 1 if labels.size and labels.dtype.kind in "iu" else None
