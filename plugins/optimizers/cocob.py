"""COCOB-Backprop: learning-rate-free training by coin betting; each weight bets a fraction of the
wealth its past bets have won on the sign of the next gradient (Orabona and Tommasi 2017, Algorithm 2).

TensorFlow Addons' rule (tensorflow_addons/optimizers/cocob.py), per weight, with x1 its starting value and
w = x - x1 its current bet:

    L <- max(L, |g|)                       (L starts at 1e-8, as in TFA)
    G <- G + g                             A <- A + |g|
    R <- max(R - g w, 0)                   (the reward: the wealth won beyond the starting L)
    w' = lr * (-G) / (L max(A + L, alpha L)) * (R + L)
    x <- x + w' - w,   w <- w'             (x = x1 + w, unless something else moves x)

with lr = 1, the paper's, by default: the algorithm has no learning rate. `learning_rate` here scales each
bet (TFA's COCOB had none); a rate below 1 bets less of the wealth, and a schedule changes the fraction
in time. alpha (default 100, the paper's and TFA's) keeps the first bets small. Five slots per weight:
L, G, A, R and w (TFA's five). A sparse gradient is taken as dense: rows without a gradient keep L, G, A
and R, and so their bet at a constant rate, so this is the lazy update too (TFA refused sparse gradients).

Reference: F. Orabona and T. Tommasi, "Training Deep Networks without Learning Rates Through Coin
Betting", NeurIPS 2017, arXiv:1705.07795.
"""

import keras
import tensorflow as tf
from keras import ops

from trainer.config.ranges import valid

FIRST_MAX_GRADIENT = 1e-8  # L's starting value, so that the first bet is defined when g = 0


@keras.saving.register_keras_serializable(package="trainer")
@valid(alpha=">= 1")
class COCOB(keras.optimizers.Optimizer):
    def __init__(self, learning_rate=1.0, alpha=100.0, name="cocob", **kwargs):
        if alpha < 1:
            raise ValueError(f"alpha must be >= 1; got {alpha}")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.alpha = alpha

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._max_gradients, self._gradient_sums, self._absolute_sums, self._rewards, self._bets = (
            self.add_optimizer_variables(var_list, ["max_gradient", "gradient_sum", "absolute_sum", "reward", "bet"])
        )
        for max_gradient in self._max_gradients:
            self.assign(max_gradient, ops.full_like(max_gradient, FIRST_MAX_GRADIENT))

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        g, lr = ops.cast(tf.convert_to_tensor(gradient), dtype), ops.cast(learning_rate, dtype)
        alpha = ops.convert_to_tensor(self.alpha, dtype)
        index = self._get_variable_index(variable)
        L, G, A, R, w = (
            slots[index]
            for slots in (self._max_gradients, self._gradient_sums, self._absolute_sums, self._rewards, self._bets)
        )
        self.assign(L, ops.maximum(L, ops.abs(g)))
        self.assign_add(G, g)
        self.assign_add(A, ops.abs(g))
        self.assign(R, ops.maximum(R - g * w, 0))
        bet = lr * -G / (L * ops.maximum(A + L, alpha * L)) * (R + L)
        self.assign_add(variable, bet - w)
        self.assign(w, bet)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}
