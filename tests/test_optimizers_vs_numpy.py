"""Each optimizer written here matches an independent NumPy implementation of its paper's update rule
(PyTorch's rule where torch.optim has the algorithm), after one step and after twenty, to 1e-6; SAM and
Newton and L-BFGS, which step through the loss closure, match values derived by hand (and L-BFGS
PyTorch's own results)."""

import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.optimizers.adabelief import AdaBelief
from trainer.plugins.optimizers.gd import GradientDescent
from trainer.plugins.optimizers.lbfgs import LBFGS
from trainer.plugins.optimizers.lookahead import Lookahead
from trainer.plugins.optimizers.newton import Newton
from trainer.plugins.optimizers.radam import RAdam
from trainer.plugins.optimizers.rprop import Rprop
from trainer.plugins.optimizers.sam import SAM
from trainer.plugins.optimizers.yogi import Yogi

from trainer.errors import ConfigError

# A coupled quadratic 0.5 w'Aw + b'w: gradients of every sign and size, changing with w.
A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
B = np.array([1.0, -2.0, 0.5])
W0 = np.array([1.0, -1.0, 2.0])


def gradient(w):
    return A @ w + B


def numpy_gd(steps, lr):
    w = W0.copy()
    for _ in range(steps):
        w = w - lr * gradient(w)
    return w


def numpy_radam(steps, lr, b1=0.9, b2=0.999, eps=1e-8):
    w, m, v = W0.copy(), np.zeros(3), np.zeros(3)
    rho_inf = 2 / (1 - b2) - 1
    for t in range(1, steps + 1):
        g = gradient(w)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > 5:
            r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            w = w - lr * m_hat * r * np.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
        else:
            w = w - lr * m_hat
    return w


def numpy_rprop(steps, lr, eta_minus=0.5, eta_plus=1.2, smin=1e-6, smax=50.0):
    w, previous, size = W0.copy(), np.zeros(3), np.full(3, lr)
    for _ in range(steps):
        g = gradient(w)
        product = g * previous
        size = np.clip(size * np.where(product > 0, eta_plus, np.where(product < 0, eta_minus, 1.0)), smin, smax)
        g = np.where(product < 0, 0.0, g)
        w = w - np.sign(g) * size
        previous = g
    return w


def numpy_adabelief(steps, lr, b1=0.9, b2=0.999, eps=1e-16):
    w, m, s = W0.copy(), np.zeros(3), np.zeros(3)
    for t in range(1, steps + 1):
        g = gradient(w)
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g - m) ** 2 + eps
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
    return w


def numpy_yogi(steps, lr, b1=0.9, b2=0.999, eps=1e-3, v0=1e-6, bias_correction=False):
    """The paper's Algorithm 2; with `bias_correction`, TensorFlow Addons' rule (tensorflow/addons
    23bd494c, tensorflow_addons/optimizers/yogi.py): the step scaled by sqrt(1 - b2^t) / (1 - b1^t)."""
    w, m, v = W0.copy(), np.zeros(3), np.full(3, v0)
    for t in range(1, steps + 1):
        g = gradient(w)
        m = b1 * m + (1 - b1) * g
        v = v - (1 - b2) * np.sign(v - g**2) * g**2
        scale = np.sqrt(1 - b2**t) / (1 - b1**t) if bias_correction else 1.0
        w = w - lr * scale * m / (np.sqrt(v) + eps)
    return w


CASES = {
    "gd": (lambda: GradientDescent(learning_rate=0.1), lambda steps: numpy_gd(steps, 0.1)),
    # rho_t > 5 from step 6 on (b2 = 0.999): twenty steps take both of RAdam's branches.
    "radam": (lambda: RAdam(learning_rate=0.05), lambda steps: numpy_radam(steps, 0.05)),
    "rprop": (lambda: Rprop(learning_rate=0.05), lambda steps: numpy_rprop(steps, 0.05)),
    "adabelief": (lambda: AdaBelief(learning_rate=0.05), lambda steps: numpy_adabelief(steps, 0.05)),
    "yogi": (lambda: Yogi(learning_rate=0.05), lambda steps: numpy_yogi(steps, 0.05)),
    "yogi, TFA's bias correction": (
        lambda: Yogi(learning_rate=0.05, bias_correction=True),
        lambda steps: numpy_yogi(steps, 0.05, bias_correction=True),
    ),
}


@pytest.mark.parametrize("steps", [1, 20])
@pytest.mark.parametrize("name", CASES)
def test_update_matches_numpy_reference(name, steps):
    make_optimizer, reference = CASES[name]
    optimizer = make_optimizer()
    w = tf.Variable(W0, dtype=tf.float64)
    for _ in range(steps):
        optimizer.apply_gradients([(tf.constant(gradient(w.numpy())), w)])

    np.testing.assert_allclose(w.numpy(), reference(steps), rtol=0, atol=1e-6)
    assert not np.allclose(w.numpy(), W0, atol=1e-3)  # it moved


def numpy_lookahead_sgd(steps, lr, k=5, alpha=0.5):
    fast = W0.copy()
    slow = W0.copy()
    for t in range(1, steps + 1):
        fast = fast - lr * gradient(fast)
        if t % k == 0:
            slow = slow + alpha * (fast - slow)
            fast = slow.copy()
    return fast


@pytest.mark.parametrize("steps", [1, 20])
def test_lookahead_matches_numpy_reference(steps):
    optimizer = Lookahead(GradientDescent(learning_rate=0.1))
    w = tf.Variable(W0, dtype=tf.float64)
    for _ in range(steps):
        optimizer.apply_gradients([(tf.constant(gradient(w.numpy())), w)])

    np.testing.assert_allclose(w.numpy(), numpy_lookahead_sgd(steps, 0.1), rtol=0, atol=1e-6)


def quadratic_closure(w):
    return lambda: (
        0.5 * tf.tensordot(w, tf.linalg.matvec(tf.constant(A), w), 1) + tf.tensordot(tf.constant(B), w, 1),
        None,
    )


@pytest.mark.parametrize("steps", [1, 20])
def test_sam_steps_with_the_gradient_at_the_ascended_point(steps):
    x = tf.Variable(5.0, dtype=tf.float64)  # f = 2x^2 + x + 3, f' = 4x + 1
    optimizer = SAM(GradientDescent(learning_rate=0.1), rho=0.05)
    for _ in range(steps):
        optimizer.apply_closure(lambda: (2 * x * x + x + 3, None), [x])

    expected = 5.0  # by hand: e = rho sign(f'(x)) in one dimension, then x <- x - lr f'(x + e)
    for _ in range(steps):
        expected -= 0.1 * (4 * (expected + 0.05 * np.sign(4 * expected + 1)) + 1)
    assert x.numpy() == pytest.approx(expected, abs=1e-6)
    if steps == 1:
        assert x.numpy() == pytest.approx(2.88, abs=1e-6)  # 5 - 0.1 * (4 * 5.05 + 1)
    assert int(optimizer.iterations.numpy()) == steps


def test_newton_reaches_a_quadratics_minimum_in_one_step():
    w = tf.Variable(W0, dtype=tf.float64)
    Newton().apply_closure(quadratic_closure(w), [w])

    np.testing.assert_allclose(w.numpy(), np.linalg.solve(A, -B), rtol=0, atol=1e-12)


def test_newton_step_on_rosenbrock_matches_the_hand_derived_one():
    x, y = tf.Variable(-1.2, dtype=tf.float64), tf.Variable(1.0, dtype=tf.float64)
    Newton().apply_closure(lambda: ((1 - x) ** 2 + 100 * (y - x * x) ** 2, None), [x, y])

    x0, y0 = -1.2, 1.0  # gradient and Hessian of (1 - x)^2 + 100 (y - x^2)^2, by hand
    g = np.array([-2 * (1 - x0) - 400 * x0 * (y0 - x0**2), 200 * (y0 - x0**2)])
    h = np.array([[2 - 400 * (y0 - 3 * x0**2), -400 * x0], [-400 * x0, 200.0]])
    np.testing.assert_allclose([x.numpy(), y.numpy()], np.array([x0, y0]) - np.linalg.solve(h, g), atol=1e-9)


def test_newton_refuses_a_model_too_large_for_its_hessian():
    with pytest.raises(ConfigError, match=r"the model has 1200 parameters, more than optimizer.max_parameters=1000"):
        Newton().build([tf.Variable(tf.zeros([1200]))])


@pytest.mark.parametrize("line_search", ["strong_wolfe", None])
def test_lbfgs_takes_the_secant_step_to_a_quadratics_minimum(line_search):
    # By hand, for 2x^2 + x + 3 from 5: the first iteration steps -g * min(1, 1/|g|) = -1 to x = 4 (the
    # strong Wolfe conditions hold there at once); the second has y = g(4) - g(5) = -4, s = -1, so
    # d = -(s'y / y'y) g(4) = -0.25 * 17 = -4.25 and x = 4 - 4.25 = -0.25, where g = 0 ends the step.
    x = tf.Variable(5.0, dtype=tf.float64)
    LBFGS(max_iter=1, line_search=line_search).apply_closure(lambda: (2 * x * x + x + 3, None), [x])
    assert x.numpy() == pytest.approx(4.0, abs=1e-12)

    x.assign(5.0)
    optimizer = LBFGS(line_search=line_search)
    optimizer.apply_closure(lambda: (2 * x * x + x + 3, None), [x])
    assert x.numpy() == pytest.approx(-0.25, abs=1e-12)
    assert int(optimizer._total_iterations.numpy()) == 2


@pytest.mark.parametrize("line_search", ["strong_wolfe", None])
def test_lbfgs_reaches_a_coupled_quadratics_minimum_in_one_step(line_search):
    w = tf.Variable(W0, dtype=tf.float64)
    LBFGS(line_search=line_search).apply_closure(quadratic_closure(w), [w])

    np.testing.assert_allclose(w.numpy(), np.linalg.solve(A, -B), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "line_search, expected",
    [  # golden values: torch.optim.LBFGS (torch 2.13.0, float64, defaults), one step from (-1.2, 1)
        ("strong_wolfe", [0.38062264334649, 0.12491013187294]),
        (None, [-0.39290952, 0.14696808]),
    ],
)
def test_lbfgs_first_step_on_rosenbrock_agrees_with_pytorch(line_search, expected):
    x, y = tf.Variable(-1.2, dtype=tf.float64), tf.Variable(1.0, dtype=tf.float64)
    LBFGS(line_search=line_search).apply_closure(lambda: ((1 - x) ** 2 + 100 * (y - x * x) ** 2, None), [x, y])

    np.testing.assert_allclose([x.numpy(), y.numpy()], expected, rtol=0, atol=1e-6)
