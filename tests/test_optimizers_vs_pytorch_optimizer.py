"""MARS and CAME match pytorch-optimizer's implementations of them, and train, save and reload through Keras'
compile/fit/.keras like Keras' own.

Provenance: the expected values were computed once, outside this repository, in a scratch virtual environment
with pytorch-optimizer 4.1.0 and torch 2.13.0 (CPU, float64). Each case names the constructor call, made with
`params` the list of the two float64 tensors START and `lr=LR`; it was stepped through all of GRADIENTS, each step
setting every `p.grad` by hand to the float64 tensor of the gradient, then `opt.step()`. The numbers are `repr`
of `p.tolist()`. None is computed with the code under test.
"""

import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.optimizers.came import CAME
from trainer.plugins.optimizers.mars import MARS

from tests.conftest import stepped

# A 1-D and a 2-D variable.
START = ([1.0, -2.0], [[0.5, 3.0], [-1.0, 0.25]])
GRADIENTS = [
    ([0.3, -0.2], [[0.1, 0.4], [0.2, -0.3]]),
    ([0.25, -0.1], [[-0.05, 0.5], [0.1, 0.2]]),
    ([0.1, 0.05], [[0.2, 0.3], [-0.4, 0.1]]),
    ([-0.2, 0.3], [[0.15, -0.1], [0.3, 0.05]]),
    ([0.05, -0.4], [[0.3, 0.2], [-0.1, 0.6]]),
]
LR = 2.0**-6  # exact in float32, where Keras keeps the learning rate


@pytest.mark.parametrize(
    "make, expected",
    [
        pytest.param(  # pytorch_optimizer.MARS(params, lr=LR, optimize_1d=True, foreach=False, eps=0.0): the MARS
            # step for the 1-D variable too; eps 0, where its placement of eps and the authors' agree (see mars.py);
            # otherwise its defaults, the authors' mars_type="adamw"
            lambda: MARS(LR, epsilon=0.0),
            [
                [0.9483233142006574, -1.9653975888805066],
                [[0.453795122285791, 2.9358715805213196], [-1.0270735792397956, 0.2562387100120814]],
            ],
            id="mars",
        ),
        pytest.param(  # the same with weight_decay=0.125 (decoupled, lr wd x, as Keras' weight_decay)
            lambda: MARS(LR, epsilon=0.0, weight_decay=0.125),
            [
                [0.9388591601899297, -1.9461531129828198],
                [[0.44911174597134507, 2.9069750375921974], [-1.0171617213513142, 0.2536934426531296]],
            ],
            id="mars-weight-decay",
        ),
        pytest.param(  # the same with gamma=0.5: the corrected gradient's norm passes 1, so it is clipped
            lambda: MARS(LR, epsilon=0.0, gamma=0.5),
            [
                [0.9865158959506959, -2.0085622682155884],
                [[0.4711894269101737, 2.9578931841919216], [-1.0142696622551335, 0.2527826044234836]],
            ],
            id="mars-clipped",
        ),
    ],
)
def test_matches_pytorch_optimizer(make, expected):
    result = stepped(make(), START, GRADIENTS)
    for got, want in zip(result, expected):
        # pytorch-optimizer adds 1e-15 to v under the square root (left out here): ~1e-12 relative at these v
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_mars_adds_eps_after_the_bias_correction_as_the_authors():
    """Not pytorch-optimizer's placement (see mars.py). At the first step from zero moments, with
    c = g (1 + gamma b1 / (1 - b1)) (norm below 1 here), the authors' step is lr c / (|c| + eps)."""
    variable, g = tf.Variable([1.0, -2.0], dtype=tf.float64), np.array([0.3, -0.2])
    MARS(LR, epsilon=0.1).apply_gradients([(tf.constant(g), variable)])
    c = g * (1 + 0.025 * 0.95 / 0.05)
    assert np.linalg.norm(c) < 1
    np.testing.assert_allclose(variable.numpy(), np.array([1.0, -2.0]) - LR * c / (np.abs(c) + 0.1), rtol=1e-13)


# CAME factors second moments for the 2-D variable and not for the 1-D one: three entries each, so that rows and
# columns differ in length.
CAME_START = ([1.0, -2.0, 0.5], [[0.5, 3.0, -1.5], [-1.0, 0.25, 2.0]])
CAME_GRADIENTS = [
    ([0.3, -0.2, 0.1], [[0.1, 0.4, -0.2], [0.2, -0.3, 0.05]]),
    ([0.25, -0.1, 0.3], [[-0.05, 0.5, 0.1], [0.1, 0.2, -0.4]]),
    ([0.1, 0.05, -0.2], [[0.2, 0.3, 0.3], [-0.4, 0.1, 0.2]]),
    ([-0.2, 0.3, 0.15], [[0.15, -0.1, 0.25], [0.3, 0.05, -0.1]]),
    ([0.05, -0.4, 0.2], [[0.3, 0.2, -0.3], [-0.1, 0.6, 0.1]]),
]


@pytest.mark.parametrize(
    "make, expected",
    [
        pytest.param(  # pytorch_optimizer.CAME(params, lr=LR, foreach=False): its defaults, the authors'
            lambda: CAME(LR),
            [
                [0.9878318708605355, -1.9946250856080374, 0.4893089578628081],
                [
                    [-0.06879504068794015, 1.6036819509341775, -1.3905803323641737],
                    [-1.713438980462188, 0.27222777042349366, 2.2227698088296197],
                ],
            ],
            id="came",
        ),
        pytest.param(  # the same with weight_decay=0.125 (decoupled, lr wd x, as Keras' weight_decay)
            lambda: CAME(LR, weight_decay=0.125),
            [
                [0.9781509672951215, -1.9751987284525288, 0.48448457211802626],
                [
                    [-0.07212607608840643, 1.5798048150676771, -1.3779126304016662],
                    [-1.7001045826907206, 0.2683600892503507, 2.202750018438249],
                ],
            ],
            id="came-weight-decay",
        ),
        pytest.param(  # the same with clip_threshold=0.5: it halves the 1-D steps; the confidence scaling of the
            # 2-D steps undoes any rescaling of u
            lambda: CAME(LR, clip_threshold=0.5),
            [
                [0.9939159354302677, -1.997312542804019, 0.49465447893140413],
                [
                    [-0.06879504068794007, 1.603681950934178, -1.3905803323641737],
                    [-1.713438980462188, 0.2722277704234936, 2.2227698088296193],
                ],
            ],
            id="came-clip-threshold",
        ),
    ],
)
def test_came_matches_pytorch_optimizer(make, expected):
    for got, want in zip(stepped(make(), CAME_START, CAME_GRADIENTS), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
