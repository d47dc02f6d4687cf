"""Rprop: resilient backpropagation, steps of a per-element size that only the gradient's sign adapts
(Riedmiller and Braun 1993).

PyTorch's `torch.optim.Rprop` rule and defaults, with p the previous step's (masked) gradient and s the
step size, which starts at the learning rate:

    c = sign(g p)
    s <- clip(s * (eta_plus if c > 0, eta_minus if c < 0, 1 otherwise), step_size_min, step_size_max)
    g <- 0 where c < 0           (after a sign change, skip this element's step)
    x <- x - sign(g) s
    p <- g

Reference: M. Riedmiller and H. Braun, "A Direct Adaptive Method for Faster Backpropagation Learning:
The RPROP Algorithm", IEEE International Conference on Neural Networks, 1993.
"""

import keras
from keras import ops

from trainer.config.ranges import valid


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    eta_minus="(0, 1)",  # the step shrinks after a sign change
    eta_plus="> 1",  # and grows while the sign holds
    step_size_min=">= 0",
    step_size_max="> 0",
)
class Rprop(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=0.01,
        eta_minus=0.5,
        eta_plus=1.2,
        step_size_min=1e-6,
        step_size_max=50.0,
        name="rprop",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.eta_minus, self.eta_plus = eta_minus, eta_plus
        self.step_size_min, self.step_size_max = step_size_min, step_size_max

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._previous, self._step_sizes = self.add_optimizer_variables(var_list, ["previous", "step_size"])
        for step_size in self._step_sizes:
            self.assign(step_size, ops.full_like(step_size, self.learning_rate))

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        g = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        previous, step_size = self._previous[index], self._step_sizes[index]
        change = ops.sign(g * previous)
        eta_plus, eta_minus = ops.convert_to_tensor(self.eta_plus, dtype), ops.convert_to_tensor(self.eta_minus, dtype)
        factor = ops.where(change > 0, eta_plus, ops.where(change < 0, eta_minus, ops.ones_like(g)))
        self.assign(step_size, ops.clip(step_size * factor, self.step_size_min, self.step_size_max))
        g = ops.where(change < 0, ops.zeros_like(g), g)
        self.assign_sub(variable, ops.sign(g) * step_size)
        self.assign(previous, g)

    def get_config(self):
        return {
            **super().get_config(),
            "eta_minus": self.eta_minus,
            "eta_plus": self.eta_plus,
            "step_size_min": self.step_size_min,
            "step_size_max": self.step_size_max,
        }
