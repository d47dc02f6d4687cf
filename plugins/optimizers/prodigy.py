"""Prodigy: D-Adaptation Adam whose estimate of the step size d weights recent gradients more, and grows
faster (Mishchenko and Defazio 2023, its Adam version).

The authors' rule and defaults (github.com/konstmish/prodigy, prodigyopt/prodigy.py). The estimate d is one
number for all the variables together; with g each variable's gradient at step t = 1, 2, ..., x0 the point
training starts from, b3 = `beta_3` (sqrt(b2) when None), bc = sqrt(1 - b2^t) / (1 - b1^t) with
`use_bias_correction` (1 without, the authors' default) and sums over every weight of every variable:

    dlr = d lr bc
    r <- b3 r + (d / d0) dlr sum(g (x0 - x))
    s <- b3 s + (d / d0) dlr g             ((d / d0) d g with safeguard_warmup)
    m <- b1 m + (1 - b1) d g
    v <- b2 v + (1 - b2) d^2 g^2
    d_hat = d_coef r / sum|s|
    d <- max(d, d_hat) while d is still d0;  d_max <- max(d_max, d_hat);  d <- min(d_max, d growth_rate)
    x <- x - dlr adapted_weight_decay x - dlr m / (sqrt(v) + d eps)       (with the new d in d eps)

d and d_max start at d0. Defaults are the authors': lr 1, b1 0.9, b2 0.999, eps 1e-8, d0 1e-6, d_coef 1,
unbounded growth, no bias correction, no safeguard. They recommend lr 1, and d_coef to scale the step.

Weight decay: Keras' `weight_decay` is x <- x - lr wd x before the step, which at lr 1 is not scaled by d
(and the estimate sees the decayed x). The authors' `weight_decay` (with their default `decouple=True`)
scales it by the adapted step, x <- x - dlr wd x: that is `adapted_weight_decay` here (optax's
`weight_decay`).

optax's `optax.contrib.prodigy` (0.2.8) is this rule with bias correction always on, without growth_rate
(d is always the largest estimate so far); the tests compare with it, and with it at a learning-rate
schedule that undoes its bias correction.

As D-Adaptation Adam (`plugins/optimizers/dadapt_adam.py`, whose machinery this shares), the state of all
the variables is updated at once before Keras steps each one; so on one replica only.

Reference: K. Mishchenko and A. Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner",
ICML 2024, arXiv:2306.06101.
"""

import keras
import tensorflow as tf
from keras import ops
from trainer.plugins.optimizers.dadapt_adam import DAdaptAdam

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(beta_3="[0, 1) or null", d_coef="> 0")
class Prodigy(DAdaptAdam):
    def __init__(
        self,
        learning_rate=1.0,
        beta_1=0.9,
        beta_2=0.999,
        beta_3=None,
        epsilon=1e-8,
        d0=1e-6,
        d_coef=1.0,
        growth_rate=float("inf"),
        use_bias_correction=False,
        safeguard_warmup=False,
        adapted_weight_decay=0.0,
        name="prodigy",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            d0=d0,
            growth_rate=growth_rate,
            use_bias_correction=use_bias_correction,
            adapted_weight_decay=adapted_weight_decay,
            name=name,
            **kwargs,
        )
        self.beta_3, self.d_coef, self.safeguard_warmup = beta_3, d_coef, safeguard_warmup

    def build(self, var_list):
        if self.built:
            return
        keras.optimizers.Optimizer.build(self, var_list)
        self._momentums, self._velocities, self._sums, self._starts = self.add_optimizer_variables(
            var_list, ["momentum", "velocity", "gradient_sum", "start"]
        )
        self.build_estimate(var_list, {"d": self.d0, "d_max": self.d0, "numerator": 0.0, "step_size": 0.0})

    def update_state(self, grads, trainable_variables, learning_rate):
        """Every slot and the estimate d, from all the gradients; dlr kept for `update_step`."""
        dtype = self._scalar_dtype
        d, dlr, b1, b2 = self.scalars(learning_rate)
        b3 = ops.sqrt(b2) if self.beta_3 is None else ops.convert_to_tensor(self.beta_3, dtype)
        d0 = ops.convert_to_tensor(self.d0, dtype)
        first = ops.equal(self.iterations, 0)
        products, s_norm = ops.zeros((), dtype), ops.zeros((), dtype)
        for gradient, variable in zip(grads, trainable_variables):
            index = self._get_variable_index(variable)
            m, v, s, x0 = self._momentums[index], self._velocities[index], self._sums[index], self._starts[index]
            local = variable.dtype
            g = ops.cast(tf.convert_to_tensor(gradient), local)  # IndexedSlices: dense
            d_v, b1_v, b2_v, b3_v = (ops.cast(value, local) for value in (d, b1, b2, b3))
            s_step = ops.cast((d / d0) * (d if self.safeguard_warmup else dlr), local)
            self.assign(x0, ops.where(first, variable, x0))
            products += ops.cast(ops.sum(g * (x0 - variable)), dtype)
            self.assign(m, b1_v * m + (1 - b1_v) * d_v * g)
            self.assign(v, b2_v * v + (1 - b2_v) * d_v * d_v * g * g)
            self.assign(s, b3_v * s + s_step * g)
            s_norm += ops.cast(ops.sum(ops.abs(s)), dtype)
        numerator = b3 * self._numerator + (d / d0) * dlr * products
        self.assign(self._numerator, numerator)
        d_hat = ops.convert_to_tensor(self.d_coef, dtype) * numerator / ops.where(s_norm > 0, s_norm, 1)
        d_max = ops.maximum(self._d_max, d_hat)
        new_d = ops.minimum(
            d_max,
            ops.where(ops.equal(d, d0), ops.maximum(d, d_hat), d) * ops.convert_to_tensor(self.growth_rate, dtype),
        )
        self.assign(self._d_max, ops.where(s_norm > 0, d_max, self._d_max))
        self.assign(self._d, ops.where(s_norm > 0, new_d, d))
        self.assign(self._step_size, dlr)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        dlr, d = ops.cast(self._step_size, dtype), ops.cast(self._d, dtype)
        decay = dlr * ops.convert_to_tensor(self.adapted_weight_decay, dtype) * variable
        self.assign_sub(variable, decay + dlr * m / (ops.sqrt(v) + d * ops.convert_to_tensor(self.epsilon, dtype)))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_3": self.beta_3,
            "d_coef": self.d_coef,
            "safeguard_warmup": self.safeguard_warmup,
        }
