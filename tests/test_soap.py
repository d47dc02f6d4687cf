"""SOAP matches pytorch-optimizer's implementation of it, eagerly and compiled with XLA, and trains, saves and
reloads through Keras' compile/fit/.keras like Keras' own.

Provenance: the expected values were computed once, outside this repository, in a scratch virtual environment with
pytorch-optimizer 4.1.0 and torch 2.13.0 (CPU, float64). Each case names the constructor call, made with `params` the
list of float64 tensors of START it names (by index) and `lr=LR`; it was stepped through all of GRADIENTS, each step
setting every `p.grad` by hand to the float64 tensor of the gradient, then `opt.step()`. The numbers are `repr` of
`p.tolist()`. pytorch-optimizer's `shampoo_beta=None` is the authors' -1 (beta_2), its `max_precondition_dim` and
`normalize_gradient` the authors' `max_precond_dim` and `normalize_grads`. None is computed with the code under test.
"""

import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.optimizers.soap import SOAP

from tests.conftest import stepped

# A vector, a matrix and a rank-3 tensor. Sizes are such that each statistics matrix, started from one gradient,
# has at most one zero eigenvalue: a larger null space would leave its eigenbasis to the eigh solver's choice.
START = (
    [0.66, -0.28],
    [[0.41, 0.72, 0.28], [0.1, 0.52, 0.43]],
    [[[-0.07, 0.14, 0.49], [-0.87, 0.29, 0.47]], [[-0.2, 0.01, -0.54], [0.3, 0.94, -0.4]]],
)
GRADIENTS = [
    (
        [-0.07, 0.78],
        [[0.1, -0.16, 0.34], [-0.94, -0.69, 0.74]],
        [[[-0.68, -0.94, 0.85], [0.51, 0.95, 0.52]], [[0.85, -0.31, 0.51], [-0.67, 0.65, 0.46]]],
    ),
    (
        [-0.62, -0.63],
        [[-0.66, 0.64, 0.33], [-0.44, 0.31, 0.37]],
        [[[0.38, 0.99, 0.69], [-0.14, -0.91, -0.54]], [[-0.85, 0.57, 0.59], [-0.57, 0.9, -0.35]]],
    ),
    (
        [-0.07, 0.16],
        [[1.0, 0.79, -0.71], [0.79, -0.59, 0.61]],
        [[[0.34, -0.7, -0.89], [0.86, -0.99, -0.7]], [[0.95, 0.39, 0.13], [-0.09, 0.14, -0.07]]],
    ),
    (
        [-0.87, -0.54],
        [[-0.37, -0.01, -0.21], [0.44, 0.61, 0.54]],
        [[[-0.08, -0.22, -0.95], [-0.29, 0.57, -0.3]], [[-0.43, -0.67, 0.27], [0.0, -0.91, -0.52]]],
    ),
    (
        [-0.85, -0.69],
        [[-0.48, -0.85, 0.98], [0.27, -0.76, 0.05]],
        [[[-0.21, -0.61, -0.17], [0.13, -0.8, 0.91]], [[-0.01, -0.85, 0.37], [0.9, -0.97, 0.36]]],
    ),
    (
        [0.68, -0.11],
        [[-0.85, 0.51, -0.33], [-0.39, 0.54, -0.99]],
        [[[-0.51, 0.81, -0.68], [-0.86, -0.81, 0.04]], [[-0.25, 0.03, 0.83], [-0.52, 0.54, 0.16]]],
    ),
    (
        [0.25, -0.94],
        [[-0.9, -0.7, -0.12], [-0.27, -0.4, 0.73]],
        [[[0.13, -0.33, 0.22], [0.74, -0.61, -0.2]], [[-0.58, 0.02, -0.74], [-0.32, 0.99, 0.84]]],
    ),
    (
        [-0.97, -0.3],
        [[0.63, 0.68, -0.37], [0.32, 0.53, -0.19]],
        [[[-0.77, 0.57, 0.47], [0.12, 0.56, 0.98]], [[-0.56, -0.99, 0.25], [-0.62, 0.73, 0.52]]],
    ),
]
LR = 2.0**-6  # exact in float32, where Keras keeps the learning rate
# Without a refresh of the eigenbasis both sides are float64 throughout. pytorch-optimizer takes the QR decomposition of
# a refresh in float32 (as the authors take all of theirs): cases with one agree to float32's precision only.
EXACT, FLOAT32_QR = {"rtol": 1e-10, "atol": 1e-12}, {"rtol": 0, "atol": 5e-8}

CASES = [
    pytest.param(  # pytorch_optimizer.SOAP(params, lr=LR, weight_decay=0.0) on START[0], START[1], START[2]: the
        # authors' defaults without weight decay (see soap.py); 8 steps, no refresh (every 10th)
        [0, 1, 2],
        {},
        [
            [0.7351883156417194, -0.19750030288368442],
            [
                [0.4842361474075399, 0.6574948156866952, 0.2876307030094217],
                [0.1009491729279531, 0.5193646629795858, 0.37774750116327094],
            ],
            [
                [
                    [-0.060631100907427994, 0.09946561303927898, 0.5396416229851281],
                    [-0.8671499175671508, 0.37933428666044955, 0.5107572468221422],
                ],
                [
                    [-0.1740776586377779, -0.005781888301768524, -0.6172210254918523],
                    [0.31171337514860614, 0.9097262468588431, -0.35769340944115063],
                ],
            ],
        ],
        EXACT,
        id="defaults",
    ),
    pytest.param(  # pytorch_optimizer.SOAP(params, lr=LR, weight_decay=0.0, precondition_frequency=2,
        # precondition_1d=True) on START[0], START[1], START[2]: refreshes at steps 2, 4 and 6; the vector is
        # preconditioned
        [0, 1, 2],
        {"precondition_frequency": 2, "precondition_1d": True},
        [
            [0.7381493276301172, -0.20439969274849284],
            [
                [0.49726390239585927, 0.6506498497660864, 0.2950820982713757],
                [0.08633076488439632, 0.5254605594728187, 0.3717817957872158],
            ],
            [
                [
                    [-0.06667758786523567, 0.0977436681291906, 0.5371842231391348],
                    [-0.8612766276066006, 0.37427851133791123, 0.5055410147163308],
                ],
                [
                    [-0.16791770581524232, -0.0021292287845516853, -0.6146782261874639],
                    [0.31800621881028224, 0.9111901042755243, -0.3500528931460526],
                ],
            ],
        ],
        FLOAT32_QR,
        id="refresh",
    ),
    pytest.param(  # pytorch_optimizer.SOAP(params, lr=LR, weight_decay=0.0, merge_dims=True, max_precondition_dim=4,
        # normalize_gradient=True, correct_bias=False, shampoo_beta=0.8, eps=0.0) on START[1], START[2]: the rank-3
        # tensor merged to 4 x 3. No vector: pytorch-optimizer's merge_small_dims gives it shape [1], which cannot
        # hold it. eps 0: pytorch-optimizer adds eps to the RMS that normalize_gradient divides by, the authors 1e-30.
        [1, 2],
        {
            "merge_dims": True,
            "max_precond_dim": 4,
            "normalize_grads": True,
            "correct_bias": False,
            "shampoo_beta": 0.8,
            "epsilon": 0.0,
        },
        [
            [
                [0.558988046087699, 0.5922540351710555, 0.3007329376065173],
                [0.07306627799602321, 0.5254213829983854, 0.3208365026965465],
            ],
            [
                [
                    [-0.050983259282077364, 0.08591517282928103, 0.5806999845904317],
                    [-0.891610830608993, 0.4725184354504625, 0.5587173607956871],
                ],
                [
                    [-0.16028335393467757, 0.006635389251314353, -0.6739431128307034],
                    [0.30102224536816463, 0.9045743464031235, -0.3666926167811403],
                ],
            ],
        ],
        EXACT,
        id="merge-normalize",
    ),
    pytest.param(  # pytorch_optimizer.SOAP(params, lr=LR, weight_decay=0.0, max_precondition_dim=2,
        # precondition_frequency=3) on START[1], START[2]: their axes of 3 are not preconditioned; refreshes at 3 and 6
        [1, 2],
        {"max_precond_dim": 2, "precondition_frequency": 3},
        [
            [
                [0.44899962586650133, 0.6627894069887507, 0.2718112027447668],
                [0.08846214293892377, 0.5097404540141834, 0.3584044723746083],
            ],
            [
                [
                    [-0.10081224834052968, 0.11276578976675512, 0.5326330077929265],
                    [-0.8624150302335993, 0.371164333839487, 0.5001413450009403],
                ],
                [
                    [-0.16451389905609012, 0.01626952209438269, -0.650817934245075],
                    [0.33310339168818703, 0.903831219714866, -0.4044306240758807],
                ],
            ],
        ],
        FLOAT32_QR,
        id="max-precond-dim",
    ),
]


@pytest.mark.parametrize("which, options, expected, tolerance", CASES)
def test_matches_pytorch_optimizer(which, options, expected, tolerance):
    start, gradients = [START[i] for i in which], [[step[i] for i in which] for step in GRADIENTS]
    for got, want in zip(stepped(SOAP(LR, weight_decay=0.0, **options), start, gradients), expected):
        np.testing.assert_allclose(got, want, **tolerance)


def test_compiles_with_xla_and_matches_pytorch_optimizer():
    """The train loop compiles its steps with XLA: eigh, QR and the tf.cond around them, in one compiled step; here
    the case with axes left out and two refreshes. XLA's float64 eigh (a Jacobi method) agrees with LAPACK's to about
    2e-9 on these inputs, well within the float32 QR's 5e-8."""
    which, options, expected, tolerance = CASES[3].values
    optimizer = SOAP(LR, weight_decay=0.0, **options)
    variables = [tf.Variable(START[i], dtype=tf.float64) for i in which]
    optimizer.build(variables)
    step = tf.function(lambda gradients: optimizer.apply_gradients(zip(gradients, variables)), jit_compile=True)
    for gradients in GRADIENTS:
        step([tf.constant(gradients[i], tf.float64) for i in which])

    for variable, want in zip(variables, expected):
        np.testing.assert_allclose(variable.numpy(), want, **tolerance)
