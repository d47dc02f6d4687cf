"""DeepOBS' `quadratic_deep`: a stochastic quadratic in 100 variables whose Hessian has the spectrum reported
for deep networks, a bulk near zero and a few large outliers: 90 eigenvalues drawn uniformly from [0, 1] and
10 from [30, 60], rotated by a Haar-random orthogonal matrix R, Q = R^T diag(eigenvalues) R.

A training evaluation is DeepOBS' mini-batch loss: the mean over `batch_size` samples x of the data set of
0.5 (theta - x)^T Q (theta - x), whose gradient Q (theta - mean of the batch) is an unbiased, noisy estimate
of the objective's. The data set is DeepOBS' training set, 1000 samples x ~ N(0, 0.6^2 I) in float32. As
DeepOBS' shuffled, remainder-dropping pipeline, each epoch is a fresh permutation cut into 1000 // batch_size
batches; the permutation is drawn by a stateless RNG keyed by (seed, epoch), the epoch and the batch within
it counted by `evaluations`, a variable of the problem (in every checkpoint), as the noisy quadratic's noise.

The objective (what `training=False`, the report, distance_to_minimum and comparisons see) is the mean of
that loss over all 1000 samples: 0.5 (theta - m)^T Q (theta - m) + least, with m the samples' mean. Minimum
theta = m (|m| = 0.175); least value 0.5 tr(Q S) = 84.7697, S the samples' covariance (divided by 1000).
DeepOBS starts every variable at 1.0, where the objective is 353.706; its default budget is batch size 128
for 100 epochs, 700 steps. The eigenvalues run from 0.0055 to 0.987 and from 30.8 to 53.1: SGD is stable
below 2 / 53.1 = 0.0376, and the directions of the smallest hardly move in that budget, so that
distance_to_minimum stays large (about 2.6) even where the objective is within 0.3 of its least value: no
local method is guaranteed to reach the minimum through the noise of its batches in a budget. A seed changes
only the batches drawn, as DeepOBS' seed changes only its shuffle.

The eigenvalues and the rotation are drawn from `numpy.random.RandomState(42)` in DeepOBS' order with DeepOBS'
arithmetic (Diaconis and Shahshahani's subgroup algorithm), and the samples from a second RandomState(42), so
that on the same NumPy the Hessian and the data equal DeepOBS' bit for bit: those of the first problem built
in a DeepOBS process, whose RandomState is shared by the module and advances with each instance. The batches
match DeepOBS' in distribution only: its shuffle (a buffer of 20000, over all 1000) is TensorFlow's, seeded by
its runner. DeepOBS' test set (RandomState(43)), and its train loss taken on 896 shuffled samples, have no
counterpart: a scalar problem reports its exact objective.

Source (fsschneider/DeepOBS): deepobs/tensorflow/testproblems/quadratic_deep.py (the RandomState(42), the
spectrum, `random_rotation`, the Hessian), testproblems/_quadratic.py (the loss, theta initialized to 1.0),
datasets/quadratic.py (the samples: 1000, noise level 0.6, RandomState(42), shuffled, remainder dropped),
deepobs/config.py (quadratic_deep: batch_size 128, num_epochs 100).

References: F. Schneider, L. Balles and P. Hennig, "DeepOBS: A Deep Learning Optimizer Benchmark Suite",
ICLR 2019; L. Sagun, L. Bottou and Y. LeCun, "Eigenvalues of the Hessian in deep learning: singularity and
beyond", arXiv:1611.01838; P. Diaconis and M. Shahshahani, "The subgroup algorithm for generating uniform
random variables", Probability in the Engineering and Informational Sciences 1, 1987.
"""

import numpy as np
import tensorflow as tf

from trainer.config.ranges import valid
from trainer.data import epoch_order
from trainer.errors import ConfigError
from trainer.scalar import ScalarProblem

DIMENSIONS, EXAMPLES, NOISE_LEVEL = 100, 1000, 0.6  # DeepOBS' quadratic data set


def deepobs_eigenvalues_and_rotation(rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """The spectrum, then the rotation, drawn as quadratic_deep.py draws them from its RandomState(42)."""
    eigenvalues = np.concatenate((rng.uniform(0.0, 1.0, 90), rng.uniform(30.0, 60.0, 10)))
    angle = 2 * np.pi * rng.uniform()
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    for d in range(2, DIMENSIONS):  # from SO(d) to SO(d + 1): a reflection through a random direction
        direction = rng.normal(size=(d + 1, 1))
        direction = direction / np.sqrt(direction.T.dot(direction))
        first = np.zeros((d + 1, 1))
        first[0] = 1.0
        normal = (first - direction) / np.sqrt((first - direction).T.dot(first - direction))
        embedded = np.eye(d + 1)
        embedded[1:, 1:] = rotation
        rotation = embedded - 2 * np.outer(normal, normal.T.dot(embedded))
    return eigenvalues, -rotation  # the sign makes the determinant 1, as DeepOBS returns it


def deepobs_hessian() -> np.ndarray:
    eigenvalues, rotation = deepobs_eigenvalues_and_rotation(np.random.RandomState(42))
    return np.matmul(np.transpose(rotation), np.matmul(np.diag(eigenvalues), rotation))


def deepobs_samples() -> np.ndarray:
    """DeepOBS' training set: float32 draws of N(0, 0.6^2), one row per sample."""
    return np.float32(np.random.RandomState(42).normal(0.0, NOISE_LEVEL, (EXAMPLES, DIMENSIONS)))


@valid(batch_size=f"int [1, {EXAMPLES}]", initial="(-inf, inf)", seed="int (-inf, inf)")
class QuadraticDeep(ScalarProblem):
    def __init__(self, batch_size: int, initial: float, seed: int):
        if not 1 <= batch_size <= EXAMPLES:
            raise ConfigError(f"model.batch_size must be an integer in [1, {EXAMPLES}]; got {batch_size}")
        hessian, samples = deepobs_hessian(), deepobs_samples()
        mean = samples.astype(np.float64).mean(axis=0)
        centred = samples - mean
        super().__init__([f"v{i}" for i in range(DIMENSIONS)], [initial] * DIMENSIONS, minimum=mean)
        self.hessian, self.samples, self.mean = hessian, samples, mean
        self.least = float(0.5 * np.mean(np.einsum("ij,jk,ik->i", centred, hessian, centred)))
        self.batch_size, self.seed = int(batch_size), self.hold_seed(seed)
        self.evaluations = tf.Variable(0, dtype=tf.int64, trainable=False, name="evaluations")

    def objective(self, *values):
        """The mean loss over all samples, in closed form (exact where a sum of 1000 losses of about 90
        each, in float32, would lose the differences that a comparison measures)."""
        offset = tf.stack(values, axis=-1)
        offset = offset - tf.constant(self.mean, offset.dtype)
        return half_quadratic_form(tf.constant(self.hessian, offset.dtype), offset) + self.least

    def __call__(self, inputs=None, training=False):
        if not training:
            return super().__call__(inputs, training)
        point = tf.stack(list(self.named_variables.values()))
        offsets = point - tf.gather(tf.constant(self.samples, point.dtype), self.batch_indices())
        self.evaluations.assign_add(1)
        return tf.reduce_mean(half_quadratic_form(tf.constant(self.hessian, point.dtype), offsets))

    def batch_indices(self) -> tf.Tensor:
        """The samples of this evaluation: its slot of its epoch's permutation, keyed by (seed, epoch)."""
        per_epoch = EXAMPLES // self.batch_size
        epoch, slot = self.evaluations // per_epoch, self.evaluations % per_epoch
        start = tf.cast(slot, tf.int32) * self.batch_size
        return tf.gather(epoch_order(self.seed, epoch, EXAMPLES), start + tf.range(self.batch_size))


def half_quadratic_form(hessian: tf.Tensor, offsets: tf.Tensor) -> tf.Tensor:
    """0.5 d^T Q d for each d along the last axis of `offsets`."""
    return 0.5 * tf.reduce_sum(offsets * tf.einsum("jk,...k->...j", hessian, offsets), axis=-1)
