"""A noisy quadratic: the ill-conditioned quadratic f(v) = sum_i h_i v_i^2 / 2, each of whose training
evaluations adds sigma xi . v with xi ~ N(0, I), so that its gradients H v + sigma xi are unbiased and
stochastic, of standard deviation sigma (`noise_scale`) in every coordinate: the noisy quadratic model of
optimizer studies, where a constant step size stalls at a noise floor that only a decaying one passes.

The noise is drawn by a stateless RNG keyed by (seed, evaluation count). The count is a variable of the
problem, so it is in every checkpoint: a resumed run draws the noise an uninterrupted one would, and two
runs of one seed draw the same. A closure optimizer (L-BFGS) draws fresh noise at each of its evaluations.
Evaluations with `training=False` (the report, the landscape picture, the gradient check) give the
expected objective, without noise. Minimum f(0, ..., 0) = 0, which no local method is guaranteed to
reach: with noise, every constant-step method ends at a noise floor around it.

References: T. Schaul, S. Zhang and Y. LeCun, "No more pesky learning rates", ICML 2013; G. Zhang et al.,
"Which algorithmic choices matter at which batch sizes? Insights from a noisy quadratic model", NeurIPS 2019.
"""

import tensorflow as tf
from trainer.plugins.models.ill_conditioned_quadratic import IllConditionedQuadratic

from trainer.config.ranges import valid
from trainer.errors import ConfigError


@valid(noise_scale=">= 0", seed="int (-inf, inf)")
class NoisyQuadratic(IllConditionedQuadratic):
    def __init__(self, dimensions: int, condition_number: float, initial: float, noise_scale: float, seed: int):
        if noise_scale < 0:
            raise ConfigError(f"model.noise_scale must be >= 0; got {noise_scale}")
        super().__init__(dimensions, condition_number, initial)
        self.noise_scale, self.seed = float(noise_scale), self.hold_seed(seed)
        self.evaluations = tf.Variable(0, dtype=tf.int64, trainable=False, name="evaluations")

    def __call__(self, inputs=None, training=False):
        expected = super().__call__(inputs, training)
        if not training:
            return expected
        point = tf.stack(list(self.named_variables.values()))
        noise = tf.random.stateless_normal(point.shape, seed=tf.stack([self.seed, self.evaluations]), dtype=point.dtype)
        self.evaluations.assign_add(1)
        return expected + self.noise_scale * tf.reduce_sum(noise * point)
