"""Gradient noise every `every` steps (none by default): the gradient noise scale and the gradient's
signal-to-noise ratio, from `samples` gradients taken at the current weights, logged as
diagnostics/gradient_noise_scale (with its jackknife standard error, diagnostics/gradient_noise_scale_stderr)
and diagnostics/gradient_snr; at the end (`logging.pictures`), the noise scale over the run beside the batch
size as the picture gradient_noise.

A classifier's samples are the gradients of `samples` equal micro-batches of the probe batch (the first
`trainer.batch_size` training examples); a scalar problem's are `samples` evaluations of its objective, each
as a step makes it (a noisy problem draws fresh noise at each; an exact one has none). The noise scale is
McCandlish et al.'s simple one, B_simple = tr(Sigma) / |G|^2: the per-example gradient covariance's trace over
the squared norm of the true gradient, both estimated without bias from the samples; it is the batch size
about which a larger batch stops paying for itself. The signal-to-noise ratio is |G|^2 over the variance of a
training step's gradient, tr(Sigma) / B for a batch of B examples (one evaluation for a scalar problem): above
1, a step's gradient is mostly signal. Each sample is taken as a step takes its gradient (`training=True`),
and every variable of the model that a step changes but does not train (a noisy problem's evaluation count,
batch-norm statistics, dropout's seeds) is put back, so that the run's numbers are those of a run without it.

Reference: S. McCandlish, J. Kaplan, D. Amodei and the OpenAI Dota Team, "An Empirical Model of Large-Batch
Training", arXiv:1812.06162, 2018 (appendix A)."""

import numpy as np
import tensorflow as tf

from trainer.actions.base import Action, log_scalars
from trainer.actions.pictures import draw_logged
from trainer.config.ranges import valid
from trainer.errors import ConfigError
from trainer.loop.step import make_gradients


@valid(every="int >= 1", samples="int >= 2")
class GradientNoise(Action):
    def __init__(self, every: int | None = None, samples: int = 16):
        self.every, self.samples = every, samples

    def begin(self, run, loop) -> None:
        if not self.every:
            return
        self.gradients = make_gradients(run.model, run.loss_fn, training=True)
        x, y = run.first_batch()
        if x is None:  # a scalar problem: each sample is one evaluation, as one step is
            self.batches, self.micro_batch, self.batch = [(None, None)] * self.samples, 1, 1
            return
        self.micro_batch, self.batch = len(x) // self.samples, len(x)
        if self.micro_batch == 0:
            raise ConfigError(
                f"actions.gradient_noise.samples must be at most trainer.batch_size ({len(x)}): "
                f"each sample is the gradient of a micro-batch of the probe batch; got {self.samples}"
            )
        size = self.micro_batch
        self.batches = [(x[i * size : (i + 1) * size], y[i * size : (i + 1) * size]) for i in range(self.samples)]

    def act(self, run, loop) -> None:
        values = noise_statistics(self.gram(run.model), self.micro_batch, self.batch)
        log_scalars(loop, values)

    def end(self, run, loop) -> None:
        if self.every:
            curves = {"B_simple": "diagnostics/gradient_noise_scale"}
            bands = {"B_simple": "diagnostics/gradient_noise_scale_stderr"}
            reference = (f"the batch ({self.batch})", self.batch)
            draw_logged(run, loop, "gradient_noise", "Gradient noise scale", curves, reference, bands)

    def gram(self, model) -> np.ndarray:
        """The (samples, samples) inner products of the sample gradients, the model's untrained state as it
        was before."""
        untrained = [variable for variable in model.variables if not variable.trainable]
        saved = [tf.identity(variable) for variable in untrained]
        flat = []
        for x, y in self.batches:
            gradients = self.gradients(x, y)
            flat.append(np.concatenate([np.asarray(g, np.float64).reshape(-1) for g in gradients if g is not None]))
        for variable, value in zip(untrained, saved):
            variable.assign(value)
        samples = np.stack(flat)
        return samples @ samples.T


def noise_statistics(gram: np.ndarray, micro_batch: int, batch: int) -> dict[str, float]:
    """B_simple, its jackknife standard error and the signal-to-noise ratio of a batch of `batch` examples,
    from the inner products of gradients of micro-batches of `micro_batch` examples each."""
    count = len(gram)
    estimate = simple_noise_scale(gram, micro_batch)
    left_out = [simple_noise_scale(np.delete(np.delete(gram, i, 0), i, 1), micro_batch) for i in range(count)]
    stderr = np.sqrt((count - 1) / count * np.sum((np.array(left_out) - np.mean(left_out)) ** 2))
    return {
        "diagnostics/gradient_noise_scale": estimate,
        "diagnostics/gradient_noise_scale_stderr": float(stderr),
        "diagnostics/gradient_snr": batch / estimate if estimate else float("inf"),
    }


def simple_noise_scale(gram: np.ndarray, micro_batch: int) -> float:
    """tr(Sigma) / |G|^2 from the Gram matrix of the micro-batch gradients: a micro-batch gradient's variance
    is tr(Sigma) / micro_batch, and the squared norm of their mean overestimates |G|^2 by that over their
    count."""
    count = len(gram)
    mean_square = gram.sum() / count**2
    variance = (np.trace(gram) - count * mean_square) / (count - 1)  # of one micro-batch's gradient
    return float(micro_batch * variance / (mean_square - variance / count))
