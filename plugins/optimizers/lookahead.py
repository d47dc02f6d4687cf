"""Lookahead (Zhang et al. 2019): k fast steps of an inner optimizer, then the slow weights move part of
the way towards the fast ones and the fast weights restart from there.

    every step:        x <- inner_optimizer(x, g)                 (fast weights, in the model)
    every k-th step:   s <- s + alpha (x - s);   x <- s            (slow weights s, starting at x)

The inner optimizer is any choice of conf/optimizer/. Defaults are the paper's: k = 5, alpha = 0.5.
The shared options go on the inner optimizer (trainer/optimizers.py), whose `gradient_accumulation_steps`
makes k count its updates, not calls. Its `use_ema` is refused: its average would miss the slow steps,
and the slow weights are already a moving average of the fast ones.

Reference: M. R. Zhang et al., "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019,
arXiv:1907.08610.
"""

import keras
from keras import ops

from trainer.config.ranges import valid
from trainer.optimizers import WrappingOptimizer


@keras.saving.register_keras_serializable(package="trainer")
@valid(sync_period="int >= 1", slow_step_size="(0, 1]")
class Lookahead(WrappingOptimizer):
    ema_refused = (
        "moves the weights after the inner step, so the inner optimizer's moving average would miss every "
        "slow step; leave it unset: the slow weights are already a moving average of the fast ones"
    )

    def __init__(self, optimizer, sync_period=5, slow_step_size=0.5, name="lookahead", **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.sync_period, self.slow_step_size = sync_period, slow_step_size

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._slow = self.add_optimizer_variables(var_list, "slow")
        for slow, variable in zip(self._slow, var_list):
            self.assign(slow, variable)

    def after_inner_step(self, variables, before):
        # k counts the inner optimizer's updates: fewer than calls under its gradient accumulation.
        updates = self.inner_optimizer.iterations
        sync = ops.logical_and(updates > before, ops.equal(updates % self.sync_period, 0))
        for variable in variables:
            slow = self._slow[self._get_variable_index(variable)]
            alpha = ops.convert_to_tensor(self.slow_step_size, variable.dtype)
            synced = slow + alpha * (variable - slow)
            self.assign(slow, ops.where(sync, synced, slow))
            self.assign(variable, ops.where(sync, synced, variable))

    def get_config(self):
        return {**super().get_config(), "sync_period": self.sync_period, "slow_step_size": self.slow_step_size}
