"""SophiaH matches pytorch-optimizer's `SophiaH`, its Hutchinson probes are reproducible and resume exactly from a
checkpoint, and it survives Keras serialization.

Provenance: the expected values were computed once, outside this repository, in a scratch virtual environment with
pytorch-optimizer 4.1.0 and torch 2.13.0+cpu (float64 default dtype), by

    opt = pytorch_optimizer.SophiaH(params, lr=2.0**-8, betas=(0.965, 0.99), p=4.0, update_period=2,
                                    hessian_distribution="rademacher", foreach=False)

with `params` the two float64 tensors START (requires_grad=True), then five times: `opt.zero_grad()`, the loss
sum(0.5 A p^2 + B p) over both, `loss.backward(create_graph=True)`, `opt.step()`. The numbers are `repr` of
`p.tolist()`; they were the same under torch.manual_seed(0) and (7). Its Hessian, diag(A), is diagonal and constant,
so every Rademacher probe u gives u * (H u) = diag(A) exactly: the reference's values do not depend on its RNG, nor
these on ours. Its lr' clip(m / max(h, eps), -p, p) is this rule with lr = lr' p = 2^-6 and gamma = p = 4 (see
sophia.py); at these values some steps are clipped (the coordinates that moved by exactly 5 lr) and some are not.
None is computed with the code under test.

SophiaH is a closure optimizer: it needs the loss for its Hessian-vector products, so it cannot train in Keras'
`model.fit` (whose step has only gradients); instead of a fit and .keras reload, its config round-trips through
Keras' serialization, and its state through a checkpoint.
"""

import keras
import numpy as np
import tensorflow as tf
from trainer.plugins.optimizers.sophia import SophiaH

START = ([1.0, -2.0], [[0.5, 3.0], [-1.0, 0.25]])
A = ([4.0, 0.5], [[1.0, 2.0], [0.25, 8.0]])
B = ([0.3, -0.2], [[0.1, 0.4], [0.2, -0.3]])
EXPECTED = [[0.922802734375, -1.921875], [[0.43691430048223046, 2.921875], [-0.9788483734652846, 0.22752639680686493]]]


def separable(variables):
    a, b = ([tf.constant(value, tf.float64) for value in values] for values in (A, B))
    return lambda: (sum(tf.reduce_sum(0.5 * ai * v * v + bi * v) for ai, bi, v in zip(a, b, variables)), None)


def coupled(variables):
    """A loss whose Hessian is not diagonal, so the estimate depends on the probes."""
    x, y = variables
    return lambda: (tf.reduce_sum(x * x) * tf.reduce_sum(y) + tf.reduce_sum(tf.sin(y) * x[None, :]), None)


def run(optimizer, variables, make_loss, steps):
    """The variables after `steps` steps, then the optimizer's (its Hessian estimates among them)."""
    for _ in range(steps):
        optimizer.apply_closure(make_loss(variables), variables)
    return [v.numpy() for v in variables + list(optimizer.variables)]


def fresh():
    return [tf.Variable(value, dtype=tf.float64) for value in START]


def test_matches_pytorch_optimizer_on_a_separable_quadratic():
    result = run(SophiaH(2.0**-6, gamma=4.0, update_period=2), fresh(), separable, 5)

    for got, want in zip(result[:2], EXPECTED):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_the_probes_are_reproducible_and_depend_on_the_seed():
    first = run(SophiaH(0.01, update_period=1), fresh(), coupled, 3)
    again = run(SophiaH(0.01, update_period=1), fresh(), coupled, 3)
    other = run(SophiaH(0.01, update_period=1, seed=1), fresh(), coupled, 3)

    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first, other))


def test_a_run_resumed_from_a_checkpoint_repeats_the_uninterrupted_one(tmp_path):
    straight = run(SophiaH(0.01, update_period=2), fresh(), coupled, 6)

    variables, optimizer = fresh(), SophiaH(0.01, update_period=2)
    run(optimizer, variables, coupled, 3)
    path = tf.train.Checkpoint(variables=variables, optimizer=optimizer).save(str(tmp_path / "ckpt"))
    restored_variables, restored = fresh(), SophiaH(0.01, update_period=2)
    restored.build(restored_variables)
    tf.train.Checkpoint(variables=restored_variables, optimizer=restored).restore(path).assert_consumed()
    resumed = run(restored, restored_variables, coupled, 3)

    assert len(straight) == len(resumed) > 2
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)


def test_keras_serialization_round_trip():
    optimizer = SophiaH(0.002, beta_1=0.9, beta_2=0.95, gamma=0.05, epsilon=1e-10, update_period=5, seed=3)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(optimizer))

    assert type(restored) is SophiaH and restored.get_config() == optimizer.get_config()
    assert (restored.update_period, restored.seed, restored.gamma) == (5, 3, 0.05)
