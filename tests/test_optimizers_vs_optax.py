"""Adan, ADOPT, AdEMAMix, D-Adaptation Adam and Prodigy match optax's implementations of them, and train, save
and reload through Keras' compile/fit/.keras like Keras' own.

Provenance: the expected values were computed once, outside this repository, in a scratch virtual environment
with optax 0.2.8 and jax 0.10.2 (CPU, float64 through `jax.config.update("jax_enable_x64", True)`). Each case
names the optax call; it was stepped from START through the first `steps` of GRADIENTS, one
`updates, state = opt.update(grads, state, params)` and `params = optax.apply_updates(params, updates)` each,
with params and grads the tuples of the two float64 arrays. The expected d is optax's `state.estim_lr` after
the last step. The numbers are `repr` of its float64 results. None is computed with the code under test.
"""

import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.optimizers.adan import Adan
from trainer.plugins.optimizers.ademamix import AdEMAMix
from trainer.plugins.optimizers.adopt import ADOPT
from trainer.plugins.optimizers.dadapt_adam import DAdaptAdam
from trainer.plugins.optimizers.prodigy import Prodigy

from tests.conftest import stepped

# Two variables, so that D-Adaptation's and Prodigy's one estimate of d spans both.
START = ([1.0, -2.0], [0.5, 3.0])
GRADIENTS = [
    ([0.3, -0.2], [0.1, 0.4]),
    ([0.25, -0.1], [-0.05, 0.5]),
    ([0.1, 0.05], [0.2, 0.3]),
    ([-0.2, 0.3], [0.15, -0.1]),
    ([0.05, -0.4], [0.3, 0.2]),
    ([0.2, -0.3], [0.1, 0.25]),
    ([0.15, -0.05], [-0.1, 0.35]),
    ([0.3, -0.25], [0.2, 0.1]),
]
LR = 2.0**-6  # exact in float32, where Keras keeps the learning rate


@pytest.mark.parametrize(
    "make, steps, expected",
    [
        pytest.param(  # optax.adan(LR, b1=0.98, b2=0.5, b3=0.99, eps=1e-8, eps_root=0.0): at b2 = 0.5 optax's
            # weight 1 - b2 of the gradient difference is the paper's b2 (see adan.py); eps_root 0 as the authors
            lambda: Adan(LR, beta_2=0.5),
            5,
            [[0.9497769633912211, -1.9681813504321488], [0.45685410353733186, 2.937916584130847]],
            id="adan",
        ),
        pytest.param(  # the same with weight_decay=0.125: optax decays by lr wd x, as Keras' weight_decay
            lambda: Adan(LR, beta_2=0.5, weight_decay=0.125),
            5,
            [[0.9403073164363717, -1.9489180122193466], [0.4521478331608616, 2.9090121190277376]],
            id="adan-weight-decay",
        ),
        pytest.param(  # optax.contrib.adopt(LR): the authors' defaults, clipping at k^(1/4)
            lambda: ADOPT(LR),
            5,
            [[0.9958295009391935, -2.000069300734243], [0.49153436645524967, 2.991411771685638]],
            id="adopt",
        ),
        pytest.param(  # optax.contrib.adopt(LR, b2=0.9, use_clipping=False)
            lambda: ADOPT(LR, beta_2=0.9, use_clipping=False),
            5,
            [[0.9959098996790985, -2.000119403476406], [0.485812059175549, 2.990114912361736]],
            id="adopt-no-clipping",
        ),
        pytest.param(  # optax.contrib.ademamix(LR, b1=0.9, b2=0.999, b3=0.9999, alpha=2.0, eps=1e-8)
            lambda: AdEMAMix(LR),
            5,
            [[0.9422725643903578, -1.9592761682713096], [0.4447320179482265, 2.9312374935655425]],
            id="ademamix",
        ),
        pytest.param(
            # optax.contrib.ademamix(LR, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.125,
            #   alpha=lambda c: 5.0 * jnp.minimum((c.astype(jnp.float64) + 1) / 3, 1.0),
            #   b3=lambda c: 0.5 ** (1 / ((1 - a(c)) * f(0.9) + a(c) * f(0.99) + 1)))
            # with a(c) = jnp.minimum((c.astype(jnp.float64) + 1) / 4, 1.0) and f(b) = math.log(0.5) /
            # math.log(b + 1e-8) - 1: the authors' linear_warmup_scheduler and linear_hl_warmup_scheduler at their
            # step t = c + 1 (c, optax's count_m2, is int32, which jax divides in float32 unless cast)
            lambda: AdEMAMix(LR, beta_3=0.99, alpha=5.0, alpha_warmup=3, beta_3_warmup=4, weight_decay=0.125),
            5,
            [[0.9152254204308023, -1.9283084339116463], [0.427810656412437, 2.8833501233938317]],
            id="ademamix-warmups-weight-decay",
        ),
    ],
)
def test_matches_optax(make, steps, expected):
    np.testing.assert_allclose(stepped(make(), START, GRADIENTS[:steps]), expected, rtol=1e-12, atol=1e-14)


# optax's D-Adaptation and Prodigy always correct for bias, multiplying the step by the rate times
# bc = ((1 - 0.999**t) ** 0.5) / (1 - 0.9**t) at t = count + 1. A rate of 1 / bc, written UNDO below,
# `lambda count: 1.0 / (((1 - 0.999 ** (count + 1)) ** 0.5) / (1 - 0.9 ** (count + 1))).astype(jnp.float64)`,
# cancels it, giving the authors' default use_bias_correction=False.
@pytest.mark.parametrize(
    "make, expected, expected_d",
    [
        pytest.param(  # optax.contrib.dadapt_adamw(1.0, estim_lr0=1e-2)
            lambda: DAdaptAdam(d0=1e-2, use_bias_correction=True),
            [[0.8754141274640849, -1.9021473251603036], [0.2387111659345028, 2.8125370581388784]],
            0.20051716758529706,
            id="dadapt_adam-bias-correction",
        ),
        pytest.param(  # optax.contrib.dadapt_adamw(UNDO, estim_lr0=1e-2, weight_decay=0.1): decay by d lr wd x
            lambda: DAdaptAdam(d0=1e-2, adapted_weight_decay=0.1),
            [[-9.200752904065727, 6.276941634341975], [-6.728720229936096, -5.982429480722585]],
            12.982379403209675,
            id="dadapt_adam-adapted-weight-decay",
        ),
        pytest.param(  # optax.contrib.prodigy(1.0, estim_lr0=1e-2)
            lambda: Prodigy(d0=1e-2, use_bias_correction=True),
            [[0.9372210241386109, -1.9526135088663337], [0.43753134038271774, 2.923776516232317]],
            0.026299927753207508,
            id="prodigy-bias-correction",
        ),
        pytest.param(  # optax.contrib.prodigy(UNDO, estim_lr0=1e-2, estim_lr_coef=2.0, weight_decay=0.1)
            lambda: Prodigy(d0=1e-2, d_coef=2.0, adapted_weight_decay=0.1),
            [[-6.850627123193629, 6.00157963339661], [-5.835749429417844, -7.675387896410484]],
            5.075641386340914,
            id="prodigy-d-coef-adapted-weight-decay",
        ),
        pytest.param(  # optax.contrib.prodigy(UNDO, estim_lr0=1e-2, safeguard_warmup=True)
            lambda: Prodigy(d0=1e-2, safeguard_warmup=True),
            [[-1.7150425860983733, 0.5614976687117013], [-1.5290053310992626, -0.4013697815076085]],
            1.0041814287151298,
            id="prodigy-safeguard-warmup",
        ),
    ],
)
def test_d_adaptation_matches_optax(make, expected, expected_d):
    """Eight steps, each variable's and the one estimate d spanning both."""
    optimizer = make()
    result = stepped(optimizer, START, GRADIENTS[:8])

    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12)
    assert float(optimizer._d.numpy()) == pytest.approx(expected_d, rel=1e-10)


def test_d_adaptation_never_grows_d_past_its_growth_rate():
    """Not in optax, which has no growth_rate. By the authors' rule d <- max(d, min(d_hat, d growth_rate)): at
    a growth rate of 1, d stays d0, and the step is Adam's (without bias correction) at the rate d0."""
    optimizer = DAdaptAdam(d0=1e-2, growth_rate=1.0)
    result = stepped(optimizer, START, GRADIENTS[:3])
    expected, m, v = [np.array(value) for value in START], [0.0, 0.0], [0.0, 0.0]
    for gradients in GRADIENTS[:3]:
        for i, g in enumerate(np.array(gradients)):
            m[i] = 0.9 * m[i] + 0.1 * 1e-2 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            expected[i] = expected[i] - m[i] / (np.sqrt(v[i]) + 1e-8)

    assert float(optimizer._d.numpy()) == 1e-2
    np.testing.assert_allclose(result, expected, rtol=1e-12)


@pytest.mark.parametrize("make", [Adan, ADOPT, AdEMAMix, DAdaptAdam, Prodigy], ids=lambda make: make.__name__)
def test_an_embeddings_sparse_gradient_steps_as_its_dense_one(make):
    """Not in optax. An embedding looked up with tf.gather has an IndexedSlices gradient; each optimizer steps
    on it as on the same gradient made dense (none is lazy: rows not looked up still move with their moments)."""

    def train(dense):
        table, optimizer = tf.Variable(np.arange(12.0).reshape(6, 2) / 10), make()
        for ids in ([0, 2, 2], [2, 4], [1]):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.gather(table, ids) ** 2)
            gradient = tape.gradient(loss, table)
            assert isinstance(gradient, tf.IndexedSlices)
            optimizer.apply_gradients([(tf.convert_to_tensor(gradient) if dense else gradient, table)])
        return table.numpy()

    np.testing.assert_array_equal(train(dense=False), train(dense=True))
