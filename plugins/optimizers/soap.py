"""SOAP: Adam run in the eigenbasis of Shampoo's preconditioner, the basis refreshed every few steps by one
power iteration (Vyas et al. 2024).

The authors' rule (github.com/nikhilvyas/SOAP, soap.py), with g the gradient. For each axis i of a variable
(a matrix has two, a row axis and a column axis; axes longer than `max_precond_dim` have none), Shampoo's
statistics L_i average g g^T contracted over every other axis, and Q_i is their eigenbasis. Projecting a
tensor multiplies each axis by Q_i^T, and projecting back by Q_i:

    first step (t = 0):   L_i <- (1 - bs) g g^T;   Q_i <- eigenvectors of L_i (eigh), largest first; no step
    then, at t = 1, 2, ...:
        m <- b1 m + (1 - b1) g                          (in the variable's own basis)
        v <- b2 v + (1 - b2) project(g)^2               (in the eigenbasis)
        u = project_back(project(m) / (sqrt(v) + eps))
        u <- u / rms(u)                                 (only with normalize_grads)
        x <- x - lr sqrt(1 - b2^t) / (1 - b1^t) u       (without the factor if correct_bias is false)
        L_i <- bs L_i + (1 - bs) g g^T
        every precondition_frequency-th t:  Q_i <- qr(L_i Q_i), its columns ordered by the estimated
            eigenvalues diag(Q_i^T L_i Q_i), largest first, and v's entries along axis i permuted alike

The projection uses the statistics of earlier steps only: the first step just starts them. A vector is preconditioned
only with `precondition_1d` (it is plain Adam otherwise), and a scalar never. `merge_dims` first merges adjacent axes
of a variable of rank 2 or more while their product stays within max_precond_dim, as the authors' `merge_dims`, in
Keras' order of axes (a convolution kernel's (h, w, in, out)); the authors' `data_format` reorders PyTorch's
(out, in, h, w) kernels and has no use here.

Defaults are the authors': lr 3e-3, b1 0.95, b2 0.95, bs = shampoo_beta, or b2 where it is negative (-1), eps 1e-8,
weight decay 0.01, precondition_frequency 10, max_precond_dim 10000, and merge_dims, precondition_1d and
normalize_grads off, correct_bias on. normalize_grads divides by 1e-30 + rms(u), as the authors.

Where this deliberately differs from the authors:
- Weight decay is Keras' decoupled `weight_decay`, x <- x - lr wd x before every step, the first (which takes no
  SOAP step) included; the authors decay after the step, from the second on. The two agree to first order in lr wd.
- The statistics and eigenbases are kept and decomposed in the variable's dtype; the authors' are float32.
  pytorch-optimizer's `SOAP` (4.1.0), which the tests compare with, keeps them in the variable's dtype too, but takes
  the QR decomposition in float32.
Both decompositions compile with XLA (tf.linalg.eigh, tf.linalg.qr), each inside a tf.cond: eigh runs at the first
step only, QR every precondition_frequency-th. On CPU, XLA's eigh is a Jacobi method, slow for long axes: measured
about 30 s for an axis of 784 (the MNIST MLP's first kernel) and 0.03 s for one of 128, once per run, where
TensorFlow's own eigh (trainer.jit_compile=false) takes 0.25 s; XLA's SVD is no faster. For axes of several hundred
on CPU, turn XLA off or lower max_precond_dim. XLA's QR of 784 x 784 takes 0.1 s.

Reference: N. Vyas, D. Morwani, R. Zhao, M. Kwun, I. Shapira, D. Brandfonbrener, L. Janson and S. Kakade, "SOAP:
Improving and Stabilizing Shampoo using Adam", arXiv:2409.11321, 2024 (ICLR 2025).
"""

import keras
import tensorflow as tf
from keras import ops

from trainer.config.ranges import valid


def merged_shape(shape, max_dim):
    """The authors' `merge_dims`: adjacent axes merged while their product stays within `max_dim`."""
    merged, current = [], 1
    for size in shape:
        if current * size <= max_dim:
            current *= size
        elif current > 1:
            merged.append(current)
            current = size
        else:
            merged.append(size)
    if current > 1 or not merged:
        merged.append(current)
    return tuple(merged)


def project(tensor, bases, back=False):
    """`tensor` in the eigenbases (one per axis; None keeps an axis as it is), or back from them. Each step moves
    its axis last, so that after all of them the axes are in their order again."""
    for basis in bases:
        if basis is None:
            tensor = ops.moveaxis(tensor, 0, -1)
        else:
            tensor = tf.tensordot(tensor, basis, axes=[[0], [1 if back else 0]])
    return tensor


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    beta_1="[0, 1)",
    beta_2="[0, 1)",
    shampoo_beta="< 1",  # negative: beta_2's
    epsilon="> 0",
    precondition_frequency="int >= 1",
    max_precond_dim="int >= 0",  # 0: no axis is preconditioned
)
class SOAP(keras.optimizers.Optimizer):
    def __init__(
        self,
        learning_rate=3e-3,
        beta_1=0.95,
        beta_2=0.95,
        shampoo_beta=-1.0,
        epsilon=1e-8,
        weight_decay=0.01,
        precondition_frequency=10,
        max_precond_dim=10000,
        merge_dims=False,
        precondition_1d=False,
        normalize_grads=False,
        correct_bias=True,
        name="soap",
        **kwargs,
    ):
        if precondition_frequency < 1:
            raise ValueError(f"precondition_frequency must be a positive integer; got {precondition_frequency}")
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.beta_1, self.beta_2, self.shampoo_beta, self.epsilon = beta_1, beta_2, shampoo_beta, epsilon
        self.precondition_frequency, self.max_precond_dim = precondition_frequency, max_precond_dim
        self.merge_dims, self.precondition_1d = merge_dims, precondition_1d
        self.normalize_grads, self.correct_bias = normalize_grads, correct_bias

    def _shape(self, shape):
        """The shape a variable is preconditioned in: its own, or its axes merged."""
        if self.merge_dims and len(shape) >= 2:
            return merged_shape(shape, self.max_precond_dim)
        return tuple(shape)

    def _preconditioned(self, shape):
        """Whether each axis of a preconditioned `shape` has statistics and an eigenbasis."""
        if len(shape) == 1 and not self.precondition_1d:
            return [False]
        return [size <= self.max_precond_dim for size in shape]

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._second_moments = self.add_optimizer_variables(var_list, ["momentum", "second_moment"])
        # Per variable, per axis of its preconditioned shape: L_i and Q_i, or None for an axis without them.
        self._statistics, self._bases = [], []
        for var in var_list:
            shape = self._shape(var.shape)
            statistics, bases = [], []
            for axis, (size, preconditioned) in enumerate(zip(shape, self._preconditioned(shape))):
                for slots, kind in ((statistics, "statistics"), (bases, "basis")):
                    slots.append(
                        self.add_variable((size, size), dtype=var.dtype, name=f"{var.name}_{kind}_{axis}")
                        if preconditioned
                        else None
                    )
            self._statistics.append(statistics)
            self._bases.append(bases)

    def update_step(self, gradient, variable, learning_rate):
        # convert_to_tensor, not cast: cast rounds Python floats through float32 first
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(tf.convert_to_tensor(gradient), dtype)  # IndexedSlices: dense
        shampoo_beta = self.beta_2 if self.shampoo_beta < 0 else self.shampoo_beta
        b1, b2, bs, eps = (
            ops.convert_to_tensor(value, dtype) for value in (self.beta_1, self.beta_2, shampoo_beta, self.epsilon)
        )
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._second_moments[index]
        statistics, bases = self._statistics[index], self._bases[index]
        shape = self._shape(variable.shape)
        g = ops.reshape(g, shape)
        first = ops.equal(self.iterations, 0)

        old_bases = [None if basis is None else ops.convert_to_tensor(basis) for basis in bases]
        m_new = b1 * ops.reshape(m, shape) + (1 - b1) * g
        v_new = b2 * ops.reshape(v, shape) + (1 - b2) * ops.square(project(g, old_bases))
        u = project(project(m_new, old_bases) / (ops.sqrt(v_new) + eps), old_bases, back=True)
        if self.normalize_grads:
            u = u / (1e-30 + ops.sqrt(ops.mean(ops.square(u))))
        if self.correct_bias:
            t = ops.cast(ops.maximum(self.iterations, 1), dtype)  # the authors' t, 1 at the second call
            lr = lr * ops.sqrt(1 - ops.power(b2, t)) / (1 - ops.power(b1, t))
        self.assign(m, ops.where(first, m, ops.reshape(m_new, m.shape)))
        v_new = ops.where(first, ops.reshape(v, shape), v_new)
        self.assign_sub(variable, ops.where(first, ops.zeros_like(variable), ops.reshape(lr * u, variable.shape)))

        present = [axis for axis, slot in enumerate(statistics) if slot is not None]
        new_statistics = []
        for axis in present:
            others = [other for other in range(len(shape)) if other != axis]
            new_statistics.append(bs * statistics[axis] + (1 - bs) * tf.tensordot(g, g, axes=[others, others]))
            self.assign(statistics[axis], new_statistics[-1])
        if present:
            v_new, new_bases = self._refresh_bases(present, new_statistics, [old_bases[a] for a in present], v_new)
            for axis, basis in zip(present, new_bases):
                self.assign(bases[axis], basis)
        self.assign(v, ops.reshape(v_new, v.shape))

    def _refresh_bases(self, axes, statistics, bases, v):
        """(v, the eigenbases of `statistics` along `axes`): by eigh at the first step, by a power iteration every
        precondition_frequency-th, else as they are."""

        def eigenbases():
            return v, [tf.reverse(tf.linalg.eigh(matrix)[1], axis=[1]) for matrix in statistics]

        def power_iteration():
            permuted, refreshed = v, []
            for axis, matrix, basis in zip(axes, statistics, bases):
                product = matrix @ basis
                order = tf.argsort(tf.reduce_sum(basis * product, axis=0), direction="DESCENDING")
                permuted = tf.gather(permuted, order, axis=axis)
                refreshed.append(tf.linalg.qr(tf.gather(product, order, axis=1))[0])
            return permuted, refreshed

        due = ops.equal(self.iterations % self.precondition_frequency, 0)
        return tf.cond(
            ops.equal(self.iterations, 0), eigenbases, lambda: tf.cond(due, power_iteration, lambda: (v, list(bases)))
        )

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "shampoo_beta": self.shampoo_beta,
            "epsilon": self.epsilon,
            "precondition_frequency": self.precondition_frequency,
            "max_precond_dim": self.max_precond_dim,
            "merge_dims": self.merge_dims,
            "precondition_1d": self.precondition_1d,
            "normalize_grads": self.normalize_grads,
            "correct_bias": self.correct_bias,
        }
