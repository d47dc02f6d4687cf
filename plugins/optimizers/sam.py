"""SAM, sharpness-aware minimization (Foret et al. 2021): step with the gradient taken where the loss is
highest within a ball of radius rho, to find flat minima.

    g = grad L(x)
    e = rho g / ||g||                      (the ascent to the ball's worst point, to first order)
    x <- inner_optimizer(x, grad L(x + e))  (the inner step, from x, with the perturbed point's gradient)

Two forward and backward passes per step, through the train step's loss closure. The inner optimizer is
any choice of conf/optimizer/ (SGD by default, as in the paper).

Reference: P. Foret et al., "Sharpness-Aware Minimization for Efficiently Improving Generalization",
ICLR 2021, arXiv:2010.01412.
"""

import keras
import tensorflow as tf

from trainer.config.ranges import valid
from trainer.optimizers import ClosureOptimizer, WrappingOptimizer, value_and_gradients


@keras.saving.register_keras_serializable(package="trainer")
@valid(rho="> 0")
class SAM(WrappingOptimizer, ClosureOptimizer):
    def __init__(self, optimizer, rho=0.05, name="sam", **kwargs):
        super().__init__(optimizer, name=name, **kwargs)
        self.rho = rho

    def apply_closure(self, closure, variables):
        loss, prediction, gradients = value_and_gradients(closure, variables)
        scale = self.rho / (tf.linalg.global_norm(gradients) + 1e-12)
        ascent = [tf.cast(scale, g.dtype) * g for g in gradients]
        for variable, step in zip(variables, ascent):
            variable.assign_add(step)
        _, _, sharp_gradients = value_and_gradients(closure, variables)
        for variable, step in zip(variables, ascent):
            variable.assign_sub(step)
        self.inner_optimizer.apply_gradients(zip(sharp_gradients, variables))
        self.iterations.assign_add(1)
        return loss, prediction, gradients

    def get_config(self):
        return {**super().get_config(), "rho": self.rho}
