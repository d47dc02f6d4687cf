"""An autoencoder: a Keras model trained on data to give back its inputs (plugins/models/vae.py). Its
targets are its inputs: `check` makes every split's examples (x, x), the labels a data plugin read left
unused, so that the loop batches, and evaluation reads, the images as targets as it would labels. In memory
the targets are the inputs' own array, 8-bit images (`Pixels`) included, which the loop converts per batch
(trainer/loop/batching.py). It reports the test split's loss (test_loss in metrics.json, test/loss in
TensorBoard) and saves model.keras as any Keras model's task (plugins/tasks/keras_model.py); it draws no
pictures."""

import dataclasses

from trainer.plugins.tasks.keras_model import KerasModelTask

from trainer.data import is_stream


class AutoencoderTask(KerasModelTask):
    def check(self, parts):
        data = parts.data
        targets = {split: inputs_as_targets(getattr(data, split)) for split in ("train", "test")}
        return dataclasses.replace(parts, data=dataclasses.replace(data, **targets))


def inputs_as_targets(examples):
    """A split's (x, y) examples as (x, x): arrays or a stream; None stays None."""
    if examples is None:
        return None
    if is_stream(examples):
        return examples.map(lambda x, _: (x, x))
    return examples[0], examples[0]
