"""D-Adaptation Adam: Adam whose step size d is estimated as it trains, from a lower bound on the distance
to the solution, so the learning rate stays 1 (Defazio and Mishchenko 2023, its Adam variant).

The authors' rule and defaults (github.com/facebookresearch/dadaptation, dadapt_adam.py). The estimate d is
one number for all the variables together; with g each variable's gradient at step t = 1, 2, ..., sb2 =
sqrt(b2), bc = sqrt(1 - b2^t) / (1 - b1^t) with `use_bias_correction` (1 without, the authors' default) and
sums over every weight of every variable:

    dlr = d lr bc
    r <- sb2 r + (1 - sb2) dlr sum(g s / (sqrt(v) + eps))    (s and v as before this step)
    s <- sb2 s + (1 - sb2) dlr g
    m <- b1 m + (1 - b1) dlr g
    v <- b2 v + (1 - b2) g^2
    d <- max(d, min(r / ((1 - sb2) sum|s|), d growth_rate))
    x <- x - dlr adapted_weight_decay x - m / (sqrt(v) + eps)

d starts at d0. Defaults are the authors': lr 1, b1 0.9, b2 0.999, eps 1e-8, d0 1e-6, unbounded growth,
no bias correction.

Weight decay: Keras' `weight_decay` is x <- x - lr wd x before the step, which at lr 1 is not scaled by d.
The authors' `weight_decay` with `decouple=True` scales it by the adapted step, x <- x - dlr wd x: that is
`adapted_weight_decay` here (optax's `weight_decay`). Their default `decouple=False` adds wd x to the
gradient: an L2 term of the loss. Where every gradient so far is 0 the authors skip the step; here d keeps
its value and the step is 0 but for the decay.

optax's `optax.contrib.dadapt_adamw` (0.2.8) is this rule with bias correction always on, without
growth_rate; the tests compare with it, and with it at a learning-rate schedule that undoes its bias
correction.

The estimate needs every variable's gradient before any variable steps, so this optimizer updates its
state for all of them at once (`update_state`) before Keras calls `update_step` for each; with
`tf.distribute`, on gradients not yet summed across replicas, so on one replica only.

Reference: A. Defazio and K. Mishchenko, "Learning-Rate-Free Learning by D-Adaptation", ICML 2023,
arXiv:2301.07733.
"""

import keras
import tensorflow as tf
from keras import ops

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    beta_1="[0, 1)",
    beta_2="[0, 1)",
    epsilon="> 0",
    d0="> 0",
    growth_rate=">= 1",  # a factor d may grow by: below 1, d could never grow (and Prodigy's would shrink)
    adapted_weight_decay=">= 0",
)
class DAdaptAdam(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=1.0,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        d0=1e-6,
        growth_rate=float("inf"),
        use_bias_correction=False,
        adapted_weight_decay=0.0,
        name="dadapt_adam",
        **kwargs,
    ):
        if d0 <= 0:
            raise ValueError(f"d0 must be > 0; got {d0}")
        if adapted_weight_decay < 0:
            raise ValueError(f"adapted_weight_decay must be >= 0; got {adapted_weight_decay}")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.d0, self.growth_rate, self.use_bias_correction = d0, growth_rate, use_bias_correction
        self.adapted_weight_decay = adapted_weight_decay

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities, self._sums = self.add_optimizer_variables(
            var_list, ["momentum", "velocity", "gradient_sum"]
        )
        self.build_estimate(var_list, {"d": self.d0, "numerator": 0.0, "step_size": 0.0})

    def build_estimate(self, var_list, initial_values):
        """A scalar variable `_<name>` for each name, in the widest dtype of the variables."""
        self._scalar_dtype = keras.backend.result_type(*[variable.dtype for variable in var_list])
        for name, value in initial_values.items():
            # An initializer, not an assign, which a symbolic build drops; not Constant, which rounds to float32.
            def initializer(shape, dtype=None, value=value):
                return ops.full(shape, value, dtype)

            setattr(self, f"_{name}", self.add_variable((), initializer, dtype=self._scalar_dtype, name=name))

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        """Keras' step of each variable (`update_step`), after the state of all of them (`update_state`)."""
        self.update_state(grads, trainable_variables, learning_rate)
        super()._backend_update_step(grads, trainable_variables, learning_rate)

    def scalars(self, learning_rate):
        """d, dlr and the hyperparameters as tensors of the estimate's dtype."""
        dtype = self._scalar_dtype
        b1, b2 = ops.convert_to_tensor(self.beta_1, dtype), ops.convert_to_tensor(self.beta_2, dtype)
        d = ops.cast(self._d, dtype)
        dlr = d * ops.cast(learning_rate, dtype)
        if self.use_bias_correction:
            t = ops.cast(self.iterations + 1, dtype)
            dlr = dlr * ops.sqrt(1 - ops.power(b2, t)) / (1 - ops.power(b1, t))
        return d, dlr, b1, b2

    def update_state(self, grads, trainable_variables, learning_rate):
        """Every slot and the estimate d, from all the gradients; dlr kept for `update_step`."""
        dtype = self._scalar_dtype
        d, dlr, b1, b2 = self.scalars(learning_rate)
        sb2, eps = ops.sqrt(b2), ops.convert_to_tensor(self.epsilon, dtype)
        products, s_norm = ops.zeros((), dtype), ops.zeros((), dtype)
        for gradient, variable in zip(grads, trainable_variables):
            index = self._get_variable_index(variable)
            m, v, s = self._momentums[index], self._velocities[index], self._sums[index]
            local = variable.dtype
            g, dlr_v = ops.cast(tf.convert_to_tensor(gradient), local), ops.cast(dlr, local)  # IndexedSlices: dense
            b1_v, b2_v, sb2_v = ops.cast(b1, local), ops.cast(b2, local), ops.cast(sb2, local)
            products += ops.cast(ops.sum(g * s / (ops.sqrt(v) + ops.cast(eps, local))), dtype)
            self.assign(s, sb2_v * s + (1 - sb2_v) * dlr_v * g)
            self.assign(m, b1_v * m + (1 - b1_v) * dlr_v * g)
            self.assign(v, b2_v * v + (1 - b2_v) * g * g)
            s_norm += ops.cast(ops.sum(ops.abs(s)), dtype)
        numerator = sb2 * self._numerator + (1 - sb2) * dlr * products
        self.assign(self._numerator, numerator)
        growth = ops.convert_to_tensor(self.growth_rate, dtype)
        d_hat = numerator / ((1 - sb2) * ops.where(s_norm > 0, s_norm, 1))
        self.assign(self._d, ops.where(s_norm > 0, ops.maximum(d, ops.minimum(d_hat, d * growth)), d))
        self.assign(self._step_size, dlr)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        dlr, eps = ops.cast(self._step_size, dtype), ops.convert_to_tensor(self.epsilon, dtype)
        decay = dlr * ops.convert_to_tensor(self.adapted_weight_decay, dtype) * variable
        self.assign_sub(variable, decay + m / (ops.sqrt(v) + eps))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "d0": self.d0,
            "growth_rate": self.growth_rate,
            "use_bias_correction": self.use_bias_correction,
            "adapted_weight_decay": self.adapted_weight_decay,
        }
