"""At the end of a run whose optimizer is SWA (plugins/optimizers/swa.py), the batch-norm statistics the
model collected belong to the training weights, not to their average: recompute them for the averaged
weights with one pass over the training examples, before the test and the export. (The last checkpoint holds
the training weights, from which a resumed run goes on.)"""

import keras
from trainer.plugins.optimizers.swa import SWA, update_batch_norm

from trainer.actions.base import Action
from trainer.loop.evaluate import batches_of


class SWABatchNorm(Action):
    phase = "weights"

    def end(self, run, loop) -> None:
        optimizer = run.optimizer
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):  # mixed_float16: the one inside
            optimizer = optimizer.inner_optimizer
        if isinstance(optimizer, SWA) and run.data.train is not None:
            update_batch_norm(run.model, batches_of(run.data.train, run.cfg.trainer.batch_size))
