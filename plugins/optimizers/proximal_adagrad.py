"""Proximal Adagrad: an Adagrad step, then the proximal step of an L1 and an L2 penalty at Adagrad's
per-weight rate, which sets small weights exactly to zero (FOBOS, Duchi and Singer 2009, with Adagrad's
rates, Duchi et al. 2011).

TensorFlow's `ApplyProximalAdagrad` kernel, which TensorFlow Addons' ProximalAdagrad called, with its
defaults (lr 0.001, accumulator 0.1, l1 = l2 = 0):

    a <- a + g^2                                   (a starts at initial_accumulator_value)
    r = lr / sqrt(a)
    p = x - r g
    x <- sign(p) max(|p| - r l1, 0) / (1 + r l2)

An `IndexedSlices` gradient updates only its rows of x and a, as TF's sparse kernel did. Keras'
`weight_decay` is its decoupled decay, before the step, as for every optimizer; l1 and l2 are the
penalties' own strengths, as in TFA.

References: J. Duchi and Y. Singer, "Efficient Online and Batch Learning using Forward Backward Splitting",
JMLR 10, 2009 (NeurIPS 2009: "Efficient Learning using Forward-Backward Splitting"); J. Duchi, E. Hazan
and Y. Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic Optimization", JMLR 12, 2011.
"""

import keras
from keras import ops

from trainer.config.ranges import valid
from trainer.optimizers import present_rows


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    initial_accumulator_value=">= 0",
    l1_regularization_strength=">= 0",
    l2_regularization_strength=">= 0",
)
class ProximalAdagrad(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        name="proximal_adagrad",
        **kwargs,
    ):
        for key, value in [
            ("initial_accumulator_value", initial_accumulator_value),
            ("l1_regularization_strength", l1_regularization_strength),
            ("l2_regularization_strength", l2_regularization_strength),
        ]:
            if value < 0:
                raise ValueError(f"{key} must be >= 0; got {value}")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(var_list, "accumulator")
        for accumulator in self._accumulators:
            self.assign(accumulator, ops.full_like(accumulator, self.initial_accumulator_value))

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        g, rows, scatter = present_rows(gradient)
        g, lr = ops.cast(g, dtype), ops.cast(learning_rate, dtype)
        l1 = ops.convert_to_tensor(self.l1_regularization_strength, dtype)
        l2 = ops.convert_to_tensor(self.l2_regularization_strength, dtype)
        a = self._accumulators[self._get_variable_index(variable)]
        a_rows = rows(a) + g * g
        self.assign(a, scatter(a_rows))
        rate = lr / ops.sqrt(a_rows)
        p = rows(variable) - rate * g
        self.assign(variable, scatter(ops.sign(p) * ops.maximum(ops.abs(p) - rate * l1, 0) / (1 + rate * l2)))

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
        }
