"""A Keras classifier trained on data: the report evaluates the test split (test_<metric> in metrics.json,
test/<metric> in TensorBoard at the step reached); the model is compiled with the run's optimizer and loss
and saved as <run dir>/model.keras, so that `keras.models.load_model` gives it back with the optimizer's
state; the pictures are the misclassified test examples (for images) and the confusion matrix, of the first
PICTURED examples where the test split is streamed."""

import numpy as np

from trainer.data import held_in_memory
from trainer.outputs.pictures import confusion_png, misclassified_png
from trainer.task import Task

PICTURED = 10000  # the test examples of a streamed split that the pictures show


class ClassificationTask(Task):
    def report(self, run) -> dict:
        import tensorflow as tf

        if run.data.test is None:
            return {}
        test = run.evaluate(run.data.test, run.cfg.trainer.eval_batch_size)
        for name, value in test.items():
            tf.summary.scalar(f"test/{name}", value, step=run.done)
        return {f"test_{name}": value for name, value in test.items()}

    def pictures(self, run) -> dict[str, bytes]:
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

    def export(self, run) -> None:
        self.callback_model(run).save(run.output_dir / "model.keras")

    def callback_model(self, run):
        if getattr(run.model, "optimizer", None) is not run.optimizer:
            run.model.compile(optimizer=run.optimizer, loss=run.loss_fn)
        return run.model
