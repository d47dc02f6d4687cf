"""NovoGrad: momentum SGD on gradients normalized by a second moment kept per layer, one number for each
variable instead of one per weight (Ginsburg et al. 2019, Algorithm 1).

TensorFlow Addons' rule and defaults (tensorflow_addons/optimizers/novograd.py), with g the gradient of a
variable x, ||g|| its whole L2 norm, d = moment_weight_decay and t the optimizer's step counted from 0:

    v <- ||g||^2 at t = 0,   b2 v + (1 - b2) ||g||^2 after            (a scalar per variable)
    v_hat <- max(v_hat, v), used in place of v                         (only with amsgrad)
    u = g / (sqrt(v) + eps) + d x
    u <- (1 - b1) u                                                    (only with grad_averaging, t > 0)
    m <- b1 m + u
    x <- x - lr m

An `IndexedSlices` gradient updates only its rows of x and m, as TFA's sparse kernel did; v is its rows'
norm. Defaults are TFA's: lr 0.001, b1 0.9, b2 0.999, eps 1e-7.

Where this differs from TFA: TFA's `weight_decay=d` (the paper's d, added to the normalized gradient,
inside the moment) is `moment_weight_decay=d` here, because `weight_decay` is Keras' decoupled decay
(x <- x - lr wd x before the step) for every optimizer; the two can be combined. TFA stepped with Keras'
momentum kernel, which folds each step's learning rate into the moment (m <- b1 m - lr u, x <- x + m); here
lr multiplies the moment as the paper and TFA's docstring write it. The two agree at a constant rate; under
a schedule each step here uses its own rate for the whole moment. With amsgrad, the running maximum is one
number per variable, like v (TFA filled a slot the size of the variable with it).

Reference: B. Ginsburg et al., "Stochastic Gradient Methods with Layer-wise Adaptive Moments for Training
of Deep Networks", arXiv:1905.11286, 2019.
"""

import keras
from keras import ops

from trainer.config.ranges import valid
from trainer.optimizers import present_rows


@keras.saving.register_keras_serializable(package="trainer")
@valid(beta_1="[0, 1)", beta_2="[0, 1)", epsilon="> 0", moment_weight_decay=">= 0")
class NovoGrad(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        moment_weight_decay=0.0,
        grad_averaging=False,
        amsgrad=False,
        name="novograd",
        **kwargs,
    ):
        if moment_weight_decay < 0:
            raise ValueError(f"moment_weight_decay must be >= 0; got {moment_weight_decay}")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.moment_weight_decay, self.grad_averaging, self.amsgrad = moment_weight_decay, grad_averaging, amsgrad

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._norms = [self.layer_norm_slot(variable, "norm") for variable in var_list]
        if self.amsgrad:
            self._norm_maxima = [self.layer_norm_slot(variable, "norm_max") for variable in var_list]

    def layer_norm_slot(self, variable, name):
        """A scalar slot for `variable`, its layer-wise second moment, named as Keras names slots."""
        prefix = getattr(variable, "path", variable.name).replace("/", "_").replace(":", "_")
        return self.add_variable(shape=(), dtype=variable.dtype, name=f"{prefix}_{name}")

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        g, rows, scatter = present_rows(gradient)
        g, lr = ops.cast(g, dtype), ops.cast(learning_rate, dtype)
        b1, b2, eps, d = (
            ops.convert_to_tensor(value, dtype)
            for value in (self.beta_1, self.beta_2, self.epsilon, self.moment_weight_decay)
        )
        first = ops.equal(self.iterations, 0)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._norms[index]
        squared_norm = ops.sum(g * g)
        self.assign(v, ops.where(first, squared_norm, b2 * v + (1 - b2) * squared_norm))
        if self.amsgrad:
            self.assign(self._norm_maxima[index], ops.maximum(self._norm_maxima[index], v))
            v = self._norm_maxima[index]
        u = g / (ops.sqrt(v) + eps) + d * rows(variable)
        if self.grad_averaging:
            u = ops.where(first, u, (1 - b1) * u)
        m_rows = b1 * rows(m) + u
        self.assign(m, scatter(m_rows))
        self.assign_sub(variable, scatter(lr * m_rows))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "moment_weight_decay": self.moment_weight_decay,
            "grad_averaging": self.grad_averaging,
            "amsgrad": self.amsgrad,
        }
