"""The optimizers and schedules brought over from TensorFlow Addons match TFA's own test numbers, and train,
save and reload through Keras' compile/fit/.keras like Keras' own.

Provenance: the expected values are TFA's, from github.com/tensorflow/addons at its last commit, d208d752e98c
(2024-04-15), tensorflow_addons/optimizers/tests/<name>_test.py: its literal numbers, or the NumPy reference
function or closed formula that TFA's test computes them with, re-implemented here; each test names its TFA
test. The few marked "Not in TFA" check this port's own additions, against NumPy or by hand. None is
computed with the code under test.
"""

import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.optimizers.cocob import COCOB
from trainer.plugins.optimizers.conditional_gradient import ConditionalGradient
from trainer.plugins.optimizers.lazy_adam import LazyAdam
from trainer.plugins.optimizers.novograd import NovoGrad
from trainer.plugins.optimizers.proximal_adagrad import ProximalAdagrad
from trainer.plugins.schedules.cyclical import (
    ExponentialCyclicalLearningRate,
    Triangular2CyclicalLearningRate,
    TriangularCyclicalLearningRate,
)

from tests.conftest import gradient_tensors, stepped
from trainer.loop.build import build_training

# TFA's test_utils.assert_allclose_according_to_type, which most of its tests assert with (float32 and float64).
ACCORDING_TO_TYPE = {"rtol": 1e-6, "atol": 1e-6}


def apply(optimizer, steps, gradients, values, dtype=tf.float32):
    """`steps` times the same gradients applied to variables starting at `values`, as TFA's `run_sample`
    helpers do; the variables' final values."""
    return stepped(optimizer, values, [gradients] * steps, dtype)


# --- NovoGrad: novograd_test.py, its literal numbers (TFA asserted atol 2e-4 dense, rtol 1e-7 sparse) ---

NOVOGRAD_DENSE = ([[0.1, 0.2], [0.3, 0.4]], [[1.0, 2.0], [3.0, 4.0]])
NOVOGRAD_SPARSE = ([([0.1], [0], [2]), ([0.4], [1], [2])], [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize(
    "sample, steps, options, expected",
    [  # test_dense_sample, test_dense_sample_with_weight_decay, test_dense_sample_with_grad_averaging,
        # test_sparse_sample, test_sparse_sample_with_weight_decay, test_sparse_sample_with_grad_averaging.
        # TFA's weight_decay is moment_weight_decay here.
        (NOVOGRAD_DENSE, 1, {}, [[0.9552786425, 1.9105572849], [2.9400000012, 3.9200000016]]),
        (NOVOGRAD_DENSE, 1, {"moment_weight_decay": 0.1}, [[0.945278642, 1.8905572849], [2.9100000012, 3.8800000016]]),
        (NOVOGRAD_DENSE, 2, {"grad_averaging": True}, [[0.9105572849, 1.8211145698], [2.8800000024, 3.8400000032]]),
        (NOVOGRAD_SPARSE, 2, {}, [[0.71, 2.0], [3.0, 3.71]]),
        (NOVOGRAD_SPARSE, 2, {"moment_weight_decay": 0.1}, [[0.6821, 2.0], [3.0, 3.5954]]),
        (NOVOGRAD_SPARSE, 2, {"grad_averaging": True}, [[0.8, 2.0], [3.0, 3.8]]),
    ],
    ids=[
        "dense",
        "dense-weight-decay",
        "dense-grad-averaging",
        "sparse",
        "sparse-weight-decay",
        "sparse-grad-averaging",
    ],
)
def test_novograd_matches_tfa(sample, steps, options, expected, dtype):
    gradients, values = sample
    result = apply(NovoGrad(learning_rate=0.1, epsilon=1e-8, **options), steps, gradients, values, dtype)

    np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-7)


# --- LazyAdam: lazy_adam_test.py, with its NumPy reference `adam_update_numpy` ---


def adam_update_numpy(param, g_t, t, m, v, lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7):
    """TFA's lazy_adam_test.py reference, as written there (t counts from 0)."""
    lr_t = lr * np.sqrt(1 - beta2 ** (t + 1)) / (1 - beta1 ** (t + 1))
    m_t = beta1 * m + (1 - beta1) * g_t
    v_t = beta2 * v + (1 - beta2) * g_t * g_t
    param_t = param - lr_t * m_t / (np.sqrt(v_t) + epsilon)
    return param_t, m_t, v_t


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("sparse", [False, True], ids=["test_basic", "test_sparse"])
def test_lazy_adam_matches_tfa(sparse, dtype):
    """TFA's test_basic (dense) and test_sparse: three steps; in test_sparse the gradient names rows 0 and 2."""
    var0, var1 = np.array([1.0, 1.0, 2.0]), np.array([3.0, 3.0, 4.0])
    grads0, grads1 = np.array([0.1, 0.0, 0.1]), np.array([0.01, 0.0, 0.01])
    rows = [0, 2]
    gradients = [(grads0[rows], rows, [3]), (grads1[rows], rows, [3])] if sparse else [grads0, grads1]
    optimizer, variables = LazyAdam(), [tf.Variable(var0, dtype=dtype), tf.Variable(var1, dtype=dtype)]
    m0 = v0 = m1 = v1 = 0.0
    for t in range(3):
        optimizer.apply_gradients(zip(gradient_tensors(gradients, dtype), variables))
        var0, m0, v0 = adam_update_numpy(var0, grads0, t, m0, v0)
        var1, m1, v1 = adam_update_numpy(var1, grads1, t, m1, v1)

        np.testing.assert_allclose(variables[0].numpy(), var0, **ACCORDING_TO_TYPE)
        np.testing.assert_allclose(variables[1].numpy(), var1, **ACCORDING_TO_TYPE)


def test_lazy_adam_sums_repeated_indices_as_tfa():
    """TFA's test_sparse_repeated_indices: rows [1, 1] of 0.1 each step as one row 1 of 0.2."""
    repeated = apply(LazyAdam(), 3, [([[0.1], [0.1]], [1, 1], [2, 1])], [[[1.0], [2.0]]])
    aggregated = apply(LazyAdam(), 3, [([[0.2]], [1], [2, 1])], [[[1.0], [2.0]]])

    np.testing.assert_allclose(repeated, aggregated, rtol=0, atol=0)
    assert repeated[0][0, 0] == 1.0  # row 0 untouched


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xla"])
def test_lazy_adam_updates_only_the_gathered_rows_of_an_embedding(compiled):
    """Not in TFA as a test. An embedding looked up with tf.gather under a GradientTape: its gradient is
    IndexedSlices, and each step moves only the rows looked up, and their moments; the others keep their
    values and moments. The expected rows are TFA's `adam_update_numpy` applied to the rows present, at the
    optimizer's global step."""
    table = np.arange(12.0).reshape(6, 2) / 10
    embedding = tf.Variable(table)  # float64: float32 rounds 1 - beta_2 by 1e-5 relative
    optimizer = LazyAdam(learning_rate=0.1)

    def gradient_of(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(embedding, ids) ** 2)
        return tape.gradient(loss, embedding)

    def step(ids):
        optimizer.apply_gradients([(gradient_of(ids), embedding)])

    assert isinstance(gradient_of(tf.constant([0])), tf.IndexedSlices)
    expected, m, v = table.copy(), np.zeros_like(table), np.zeros_like(table)
    for t, ids in enumerate([[0, 2, 2], [2, 4], [0, 5]]):  # row 2 twice at first: its gradients summed
        (tf.function(step, jit_compile=True) if compiled else step)(tf.constant(ids))
        gradient = np.zeros_like(table)
        np.add.at(gradient, ids, 2 * expected[ids])
        for row in sorted(set(ids)):
            expected[row], m[row], v[row] = adam_update_numpy(expected[row], gradient[row], t, m[row], v[row], lr=0.1)

    np.testing.assert_allclose(embedding.numpy(), expected, rtol=1e-7)  # Keras keeps the rate in float32
    np.testing.assert_allclose(optimizer._momentums[0].numpy(), m, rtol=1e-7)
    np.testing.assert_allclose(optimizer._velocities[0].numpy(), v, rtol=1e-7)
    np.testing.assert_array_equal(embedding.numpy()[[1, 3]], table[[1, 3]])  # never looked up
    np.testing.assert_array_equal(optimizer._momentums[0].numpy()[[1, 3]], 0)


# --- ProximalAdagrad: proximal_adagrad_test.py, its literal numbers (10 steps at lr 3, accumulator 0.1) ---


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(
    "options, expected",
    [  # test_without_regularization, test_with_l1_regularization, test_with_l1_l2_regularization, and
        # their test_sparse_* twins, which keep var_0[1] = 2 and var_1[0] = 4 (rows without a gradient).
        ({}, [[-6.722771, -9.230448], [3.0539124, 1.1230775]]),
        ({"l1_regularization_strength": 0.001}, [[-6.663634, -9.190331], [2.9593036, 1.0292315]]),
        (
            {"l1_regularization_strength": 0.001, "l2_regularization_strength": 2.0},
            [[-0.0495, -0.0995], [-0.0045, -0.0095]],
        ),
    ],
    ids=["plain", "l1", "l1-l2"],
)
def test_proximal_adagrad_matches_tfa(options, expected, sparse):
    if sparse:
        gradients = [([0.1], [0], [2]), ([0.02], [1], [2])]
        expected = [[expected[0][0], 2.0], [4.0, expected[1][1]]]
    else:
        gradients = [[0.1, 0.2], [0.01, 0.02]]
    optimizer = ProximalAdagrad(learning_rate=3.0, initial_accumulator_value=0.1, **options)
    result = apply(optimizer, 10, gradients, [[1.0, 2.0], [4.0, 3.0]])

    # TFA asked rtol 1e-7 of TF's fused float32 kernel (5e-7 sparse); unfused float32 here rounds 2e-7 apart.
    np.testing.assert_allclose(result, expected, rtol=5e-7)


# --- ConditionalGradient: conditional_gradient_test.py ---

# _db_params_frobenius_cg01 and _db_params_nuclear_cg01: "dist-belief" values, a vector of 10 zeros after each
# of 10 steps at learning_rate 0.1, lambda_ 0.1, with these gradients (the same in both).
DIST_BELIEF_GRADIENTS = [
    [
        0.00096264342,
        0.17914793,
        0.93945462,
        0.41396621,
        0.53037018,
        0.93197989,
        0.78648776,
        0.50036013,
        0.55345792,
        0.96722615,
    ],
    [
        0.17075552,
        0.88821375,
        0.20873757,
        0.25236958,
        0.57578111,
        0.15312378,
        0.5513742,
        0.94687688,
        0.16012503,
        0.22159521,
    ],
    [
        0.35077485,
        0.47304362,
        0.44412705,
        0.44368884,
        0.078527533,
        0.81223965,
        0.31168157,
        0.43203235,
        0.16792089,
        0.24644311,
    ],
    [
        0.9694621,
        0.75035888,
        0.28171822,
        0.83813518,
        0.53807181,
        0.3728098,
        0.81454384,
        0.03848977,
        0.89759839,
        0.93665648,
    ],
    [
        0.38578293,
        0.8536852,
        0.88722926,
        0.66276771,
        0.13678469,
        0.94036359,
        0.69107032,
        0.81897682,
        0.5433259,
        0.67860287,
    ],
    [
        0.27885768,
        0.76100707,
        0.24625534,
        0.81354135,
        0.18959245,
        0.48038563,
        0.84163809,
        0.41172323,
        0.83259648,
        0.44941229,
    ],
    [
        0.27233034,
        0.056316052,
        0.5039115,
        0.24105175,
        0.35697976,
        0.75913221,
        0.73577434,
        0.16014607,
        0.57500273,
        0.071136251,
    ],
    [
        0.58697265,
        0.2494842,
        0.08106143,
        0.39954534,
        0.15892942,
        0.12683646,
        0.74053431,
        0.16033,
        0.66625422,
        0.73515922,
    ],
    [
        0.8215279,
        0.41994119,
        0.95172721,
        0.68000203,
        0.79439718,
        0.43384039,
        0.55561525,
        0.22567581,
        0.93331909,
        0.29438227,
    ],
    [
        0.68297005,
        0.67758518,
        0.1748755,
        0.13266537,
        0.70697063,
        0.055731893,
        0.68593478,
        0.50580865,
        0.12602448,
        0.093537711,
    ],
]
DIST_BELIEF_OUTPUTS = {
    "fro": [
        [
            -4.1555551e-05,
            -0.0077334875,
            -0.040554531,
            -0.017870162,
            -0.022895107,
            -0.040231861,
            -0.033951234,
            -0.021599628,
            -0.023891762,
            -0.041753378,
        ],
        [
            -0.00961733,
            -0.0507779,
            -0.01580694,
            -0.01599489,
            -0.03470477,
            -0.01264373,
            -0.03443632,
            -0.05546713,
            -0.01140388,
            -0.01665068,
        ],
        [
            -0.02462724,
            -0.03699233,
            -0.03154434,
            -0.03153357,
            -0.00876844,
            -0.05606323,
            -0.02447166,
            -0.03469437,
            -0.0124694,
            -0.01829169,
        ],
        [
            -0.04124615,
            -0.03371741,
            -0.0144246,
            -0.03668303,
            -0.02240246,
            -0.02052062,
            -0.03503307,
            -0.00500922,
            -0.03715545,
            -0.0393002,
        ],
        [
            -0.01979208,
            -0.0380417,
            -0.03747472,
            -0.0305847,
            -0.00779536,
            -0.04024222,
            -0.03156913,
            -0.0337613,
            -0.02578116,
            -0.03148952,
        ],
        [
            -0.01555188,
            -0.04084422,
            -0.01573331,
            -0.04265549,
            -0.01000746,
            -0.02740575,
            -0.04412147,
            -0.02341569,
            -0.0431026,
            -0.02502293,
        ],
        [
            -0.01890448,
            -0.00767214,
            -0.03367592,
            -0.01962219,
            -0.02374279,
            -0.05110247,
            -0.05128598,
            -0.01254396,
            -0.04094185,
            -0.00703416,
        ],
        [
            -0.03772914,
            -0.01599993,
            -0.00831695,
            -0.02635719,
            -0.01207801,
            -0.01285448,
            -0.05034328,
            -0.01104364,
            -0.04477356,
            -0.04558991,
        ],
        [
            -0.03919835,
            -0.01970845,
            -0.04187151,
            -0.03195836,
            -0.03546333,
            -0.01999326,
            -0.02899324,
            -0.01083582,
            -0.04472339,
            -0.01725317,
        ],
        [
            -0.04510314,
            -0.04282944,
            -0.0147322,
            -0.0111956,
            -0.04617687,
            -0.00535998,
            -0.0442614,
            -0.03158399,
            -0.01207165,
            -0.00736567,
        ],
    ],
    "nuclear": [
        [
            -4.1552783e-05,
            -0.0077334875,
            -0.040554535,
            -0.017870164,
            -0.022895109,
            -0.040231861,
            -0.033951234,
            -0.021599628,
            -0.023891764,
            -0.041753381,
        ],
        [
            -0.00961733,
            -0.0507779,
            -0.01580694,
            -0.01599489,
            -0.03470477,
            -0.01264373,
            -0.03443632,
            -0.05546713,
            -0.01140388,
            -0.01665068,
        ],
        [
            -0.02462724,
            -0.03699233,
            -0.03154433,
            -0.03153357,
            -0.00876844,
            -0.05606324,
            -0.02447166,
            -0.03469437,
            -0.0124694,
            -0.01829169,
        ],
        [
            -0.04124615,
            -0.03371741,
            -0.0144246,
            -0.03668303,
            -0.02240246,
            -0.02052062,
            -0.03503307,
            -0.00500922,
            -0.03715545,
            -0.0393002,
        ],
        [
            -0.01979207,
            -0.0380417,
            -0.03747472,
            -0.0305847,
            -0.00779536,
            -0.04024221,
            -0.03156913,
            -0.0337613,
            -0.02578116,
            -0.03148951,
        ],
        [
            -0.01555188,
            -0.04084422,
            -0.01573331,
            -0.04265549,
            -0.01000746,
            -0.02740575,
            -0.04412147,
            -0.02341569,
            -0.0431026,
            -0.02502293,
        ],
        [
            -0.01890448,
            -0.00767214,
            -0.03367592,
            -0.01962219,
            -0.02374278,
            -0.05110246,
            -0.05128598,
            -0.01254396,
            -0.04094184,
            -0.00703416,
        ],
        [
            -0.03772915,
            -0.01599993,
            -0.00831695,
            -0.0263572,
            -0.01207801,
            -0.01285448,
            -0.05034329,
            -0.01104364,
            -0.04477356,
            -0.04558992,
        ],
        [
            -0.03919835,
            -0.01970845,
            -0.04187151,
            -0.03195836,
            -0.03546333,
            -0.01999326,
            -0.02899324,
            -0.01083582,
            -0.04472339,
            -0.01725317,
        ],
        [
            -0.04510314,
            -0.04282944,
            -0.0147322,
            -0.0111956,
            -0.04617687,
            -0.00535998,
            -0.0442614,
            -0.031584,
            -0.01207165,
            -0.00736567,
        ],
    ],
}


@pytest.mark.parametrize("ord", ["fro", "nuclear"])
def test_conditional_gradient_matches_tfas_dist_belief_values(ord):
    """test_like_dist_belief_frobenius_cg01 and test_like_dist_belief_nuclear_cg01, at TFA's rtol = atol = 1e-6."""
    variable = tf.Variable([0.0] * 10)
    optimizer = ConditionalGradient(learning_rate=0.1, lambda_=0.1, ord=ord)
    for gradient, expected in zip(DIST_BELIEF_GRADIENTS, DIST_BELIEF_OUTPUTS[ord]):
        optimizer.apply_gradients([(tf.constant(gradient), variable)])
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("steps", [1, 2])
def test_conditional_gradient_frobenius_steps_as_tfa(steps, dtype):
    """test_basic_frobenius: TFA's closed form for one and two steps at lr 0.5, lambda_ 0.01; no slot."""
    gradients, start = [np.array([0.1, 0.1]), np.array([0.01, 0.01])], [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    optimizer = ConditionalGradient(learning_rate=0.5, lambda_=0.01)
    result = apply(optimizer, steps, gradients, start, dtype)

    for g, x, after in zip(gradients, start, result):
        norm = np.sum(g**2) ** 0.5
        expected = x * 0.5 - (1 - 0.5) * 0.01 * g / norm
        if steps == 2:
            expected = expected * 0.5 - (1 - 0.5) * 0.01 * g / norm
        np.testing.assert_allclose(after, expected, **ACCORDING_TO_TYPE)
    assert [v.path for v in optimizer.variables] == [
        "conditional_gradient/iteration",
        "conditional_gradient/learning_rate",
    ]


@pytest.mark.parametrize("ord", ["fro", "nuclear"])
def test_conditional_gradient_sparse_as_tfa(ord):
    """test_sparse_frobenius and test_sparse_nuclear (lr 0.1, lambda_ 0.1, two steps): only the rows of the
    IndexedSlices move, s from those rows alone; the nuclear one's top singular vectors are TFA's literals."""
    lr, lambda_ = 0.1, 0.1
    if ord == "fro":
        s0 = np.array([0.1, 0.1]) / (2 * 0.1**2) ** 0.5  # norm0 of TFA's test
        s1 = np.array([0.01, 0.01]) / (4 * 0.01**2) ** 0.5  # norm1
    else:
        s0 = np.array([0.7071067, 0.7071067])  # top_singular_vector0[1]
        s1 = np.array([4.9999994e-01, 4.9999994e-01])  # top_singular_vector1[2] (and [3])
    optimizer = ConditionalGradient(learning_rate=lr, lambda_=lambda_, ord=ord)
    gradients = [([[0.1, 0.1]], [1], [4, 2]), ([[0.01, 0.01], [0.01, 0.01]], [2, 3], [4, 2])]
    var0, var1 = apply(optimizer, 2, gradients, [np.zeros([4, 2]), np.ones([4, 2])])

    np.testing.assert_allclose(var0[0], [0, 0])
    step0, step1 = (1 - lr) * lambda_ * s0, (1 - lr) * lambda_ * s1
    np.testing.assert_allclose(var0[1], (0 - step0) * lr - step0, **ACCORDING_TO_TYPE)
    np.testing.assert_allclose(var1[2], (1.0 * lr - step1) * lr - step1, **ACCORDING_TO_TYPE)
    np.testing.assert_allclose(var1[[0, 1]], np.ones([2, 2]))  # rows without a gradient stay


def test_conditional_gradient_embedding_lookup_as_tfa():
    """test_minimize_with_2D_indicies_for_embedding_lookup_frobenius: row 1 of ones steps with g = [1, 1]."""
    variable = tf.Variable(tf.ones([2, 2]))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.embedding_lookup(variable, [[1]]))
    optimizer = ConditionalGradient(learning_rate=0.1, lambda_=0.1)
    optimizer.apply_gradients(zip(tape.gradient(loss, [variable]), [variable]))

    norm0 = 2**0.5  # of the gradient [[0, 0], [1, 1]]
    np.testing.assert_allclose(variable.numpy(), [[1, 1], [0.1 - 0.9 * 0.1 / norm0] * 2], **ACCORDING_TO_TYPE)


def test_conditional_gradient_nuclear_takes_kernels_as_a_matrix_of_their_last_axis():
    """Not from TFA (its SVD was batched over a kernel's leading axes): the step of a 3-axis variable is
    u1 v1' of its (all but the last) x (last) matrix, by NumPy's SVD."""
    gradient = np.random.default_rng(0).normal(size=(2, 3, 4))
    variable = tf.Variable(np.zeros((2, 3, 4)))
    optimizer = ConditionalGradient(learning_rate=0.5, lambda_=1.0, ord="nuclear")
    optimizer.apply_gradients([(tf.constant(gradient), variable)])

    u, _, vt = np.linalg.svd(gradient.reshape(6, 4))
    np.testing.assert_allclose(variable.numpy(), -0.5 * np.outer(u[:, 0], vt[0]).reshape(2, 3, 4), atol=1e-9)


# --- COCOB: cocob_test.py, its literal numbers (TFA asserted atol 2e-4) ---


@pytest.mark.parametrize(
    "alpha, steps, expected",
    [  # test_dense_sample_with_default_alpha, ..._with_custom_int_alpha, ..._with_custom_float_alpha
        (100, 10, [[0.84528893, 1.845289], [2.845289, 3.845289]]),
        (20, 7, [[0.09346926, 1.0934693], [2.0934694, 3.0934694]]),
        (55.7, 5, [[0.89307845, 1.8930784], [2.8930783, 3.8930783]]),
    ],
)
def test_cocob_matches_tfa(alpha, steps, expected):
    result = apply(COCOB(alpha=alpha), steps, [[0.1, 0.2], [0.03, 0.04]], [[1.0, 2.0], [3.0, 4.0]])

    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)


def test_cocobs_learning_rate_scales_its_bets():
    """Not in TFA, which had no rate. By hand, the first bet is -lr g / (|g| alpha |g|) |g| = -lr / alpha."""
    (result,) = apply(COCOB(learning_rate=0.5, alpha=100.0), 1, [[0.1, 0.2]], [[1.0, 2.0]])

    np.testing.assert_allclose(result, [1.0 - 0.005, 2.0 - 0.005], rtol=1e-6)


# --- Cyclical learning rates: cyclical_learning_rate_test.py ---


def serialized(schedule, round_trip):
    return type(schedule).from_config(schedule.get_config()) if round_trip else schedule


@pytest.mark.parametrize("round_trip", [False, True])
def test_triangular_matches_tfa(round_trip):
    """test_triangular_cyclical_learning_rate: linear up over 40 steps from 0.1 to 1, and down again."""
    schedule = serialized(TriangularCyclicalLearningRate(0.1, 1.0, step_size=40), round_trip)
    expected = np.concatenate([np.linspace(0.1, 1, num=41), np.linspace(1, 0.1, num=41)[1:]])

    np.testing.assert_allclose(schedule(np.arange(len(expected))), expected, rtol=1e-6)


@pytest.mark.parametrize("round_trip", [False, True])
def test_triangular2_matches_tfa(round_trip):
    """test_triangular2_cyclical_learning_rate: the second cycle peaks halfway, at (1 + 0.1) / 2."""
    schedule = serialized(Triangular2CyclicalLearningRate(0.1, 1.0, step_size=30), round_trip)
    middle = (1 + 0.1) / 2
    expected = np.concatenate(
        [
            np.linspace(0.1, 1, num=31),
            np.linspace(1, 0.1, num=31)[1:],
            np.linspace(0.1, middle, num=31)[1:],
            np.linspace(middle, 0.1, num=31)[1:],
        ]
    )

    np.testing.assert_allclose(schedule(np.arange(len(expected))), expected, rtol=1e-6)


@pytest.mark.parametrize("round_trip", [False, True])
def test_exp_range_matches_tfa(round_trip):
    """test_exponential_cyclical_learning_rate: TFA's NumPy formula over 8001 steps, gamma 0.996."""
    schedule = serialized(ExponentialCyclicalLearningRate(0.1, 1.0, step_size=2000, gamma=0.996), round_trip)
    i = np.arange(8001)
    non_bounded_value = np.abs(i / 2000.0 - 2 * np.floor(1 + i / (2 * 2000)) + 1)
    expected = 0.1 + (1 - 0.1) * np.maximum(0, (1 - non_bounded_value)) * (0.996**i)

    np.testing.assert_allclose(schedule(i), expected, rtol=1e-6, atol=1e-7)  # TFA asked rtol 1e-6


@pytest.mark.parametrize("choice", ["triangular", "triangular2", "exp_range"])
def test_a_cyclical_schedule_choice_peaks_at_the_optimizers_rate(make_config, choice):
    run = build_training(make_config(f"schedule={choice}", "optimizer.learning_rate=0.05", "schedule.step_size=10"))
    schedule = run.optimizer._learning_rate

    assert schedule.maximal_learning_rate == 0.05 and schedule.initial_learning_rate == 0.0
    decay = 0.999 if choice == "exp_range" else 1.0  # exp_range.yaml's gamma, per step
    rates = [float(schedule(step)) for step in (0, 5, 10, 20)]
    assert rates == pytest.approx([0, 0.025 * decay**5, 0.05 * decay**10, 0], rel=1e-6)
