"""SophiaH (Liu et al. 2023): Adam-like momentum divided by an EMA of a Hutchinson estimate of the Hessian's
diagonal, clipped element-wise, so each coordinate steps at most lr. The Hessian-diagonal variant, SophiaH.

The rule, with g the gradient, t = 0, 1, ... the step and k = update_period:

    every k-th step (t % k == 0):
        u ~ Rademacher (+-1), from a stateless RNG keyed by (seed, t, the variable's index)
        h <- b2 h + (1 - b2) u * (H u)         (H u a Hessian-vector product, from nested GradientTapes)
    m <- b1 m + (1 - b1) g
    x <- x - lr clip(m / max(gamma h, eps), -1, 1)

u * (H u) is unbiased for diag(H); for a Hessian that is diagonal it is diag(H) exactly, whatever u. No bias
correction, as the paper's Algorithm 3 and pytorch-optimizer. A `ClosureOptimizer`: the Hessian-vector product
needs the loss, not only its gradient, so it cannot train in Keras' `model.fit`, and refuses Keras' shared options
(clipping, weight decay, EMA, ...; see trainer/optimizers.py). The probe is a function of the step, so a run
restored from a checkpoint repeats the same probes.

Defaults: the authors' code's betas (0.965, 0.99) (github.com/Liuhong99/Sophia; the paper's text and
pytorch-optimizer have b1 0.96), the paper's k = 10 and eps 1e-12; gamma 0.01, the rho of the authors' usage example
(of SophiaG) and pytorch-optimizer's p, and lr 6e-4, the step that pytorch-optimizer's `SophiaH` defaults give (its
lr 0.06 times its p 0.01). Tune lr as the authors advise: it is the largest step a coordinate takes.

Deliberate differences from pytorch-optimizer's `SophiaH` (4.1.0): it writes the clip as lr' clip(m / max(h, eps),
-p, p); that is this rule with lr = lr' p and gamma = p, except that its eps bounds h where the paper's (and this)
bounds gamma h. Its probe is Gaussian by default (`hessian_distribution="gaussian"`); the paper's, and this, is
Rademacher. Its (and the paper's) decoupled weight decay is not offered: a closure optimizer steps without Keras'
apply(), which implements `weight_decay`. One probe per estimate (its num_samples=1).

Reference: H. Liu, Z. Li, D. Hall, P. Liang and T. Ma, "Sophia: A Scalable Stochastic Second-order Optimizer for
Language Model Pre-training", arXiv:2305.14342, 2023 (ICLR 2024); github.com/Liuhong99/Sophia.
"""

import keras
import tensorflow as tf

from trainer.config.ranges import valid
from trainer.optimizers import ClosureOptimizer


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    beta_1="[0, 1)",
    beta_2="[0, 1)",
    gamma="> 0",
    epsilon="> 0",
    update_period="int >= 1",
    seed="int (-inf, inf)",  # any integer keys the stateless RNG
)
class SophiaH(ClosureOptimizer):
    def __init__(
        self,
        learning_rate=6e-4,
        beta_1=0.965,
        beta_2=0.99,
        gamma=0.01,
        epsilon=1e-12,
        update_period=10,
        seed=0,
        name="sophia",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.gamma, self.epsilon = beta_1, beta_2, gamma, epsilon
        self.update_period, self.seed = update_period, seed

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._hessians = self.add_optimizer_variables(var_list, ["momentum", "hessian"])

    def _probes(self, variables):
        """Rademacher vectors shaped like `variables`, a function of (seed, step, index) only."""
        key = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(self.iterations, tf.int64)])
        return [
            tf.cast(
                tf.random.stateless_uniform(
                    variable.shape,
                    seed=tf.random.experimental.stateless_fold_in(key, index),
                    minval=0,
                    maxval=2,
                    dtype=tf.int32,
                )
                * 2
                - 1,
                variable.dtype,
            )
            for index, variable in enumerate(variables)
        ]

    def _hessian_estimates(self, closure, variables):
        """Hutchinson's estimates u * (H u) of the Hessian's diagonal, for this step's probes u; H u is the
        gradient of g . u, from nested tapes."""
        probes = self._probes(variables)
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss, _ = closure()
            product = tf.add_n(
                [tf.reduce_sum(g * u) for g, u in zip(inner.gradient(loss, variables), probes) if g is not None]
            )
        return [
            tf.zeros_like(v) if hu is None else u * tf.convert_to_tensor(hu)
            for hu, u, v in zip(outer.gradient(product, variables), probes, variables)
        ]

    def apply_closure(self, closure, variables):
        self.build(variables)
        with tf.GradientTape() as tape:
            loss, prediction = closure()
        gradients = [
            tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(tape.gradient(loss, variables), variables)
        ]
        refresh = tf.equal(tf.math.floormod(tf.cast(self.iterations, tf.int64), self.update_period), 0)
        # Only on the steps that use them: a second backward pass (and a forward one) every k-th step.
        estimates = tf.cond(
            refresh, lambda: self._hessian_estimates(closure, variables), lambda: [tf.zeros_like(v) for v in variables]
        )
        for variable, g, estimate in zip(variables, gradients, estimates):
            dtype = variable.dtype
            b1, b2, gamma, eps = (
                tf.convert_to_tensor(value, dtype) for value in (self.beta_1, self.beta_2, self.gamma, self.epsilon)
            )
            lr = tf.cast(self.learning_rate, dtype)
            index = self._get_variable_index(variable)
            m, h = self._momentums[index], self._hessians[index]
            m.assign(b1 * m + (1 - b1) * g)
            h.assign(tf.where(refresh, b2 * h + (1 - b2) * estimate, h))
            variable.assign_sub(lr * tf.clip_by_value(m / tf.maximum(gamma * h, eps), -1.0, 1.0))
        self.iterations.assign_add(1)
        return loss, prediction, gradients

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "gamma": self.gamma,
            "epsilon": self.epsilon,
            "update_period": self.update_period,
            "seed": self.seed,
        }
