"""Each optimizer written here matches an independent NumPy implementation of its paper's update rule
(PyTorch's rule where torch.optim has the algorithm), after one step and after twenty, to 1e-6."""
import numpy as np
import pytest
import tensorflow as tf

from plugins.optimizers.adabelief import AdaBelief
from plugins.optimizers.gd import GradientDescent
from plugins.optimizers.radam import RAdam
from plugins.optimizers.rprop import Rprop
from plugins.optimizers.yogi import Yogi

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


def numpy_yogi(steps, lr, b1=0.9, b2=0.999, eps=1e-3, v0=1e-6):
    w, m, v = W0.copy(), np.zeros(3), np.full(3, v0)
    for _ in range(steps):
        g = gradient(w)
        m = b1 * m + (1 - b1) * g
        v = v - (1 - b2) * np.sign(v - g**2) * g**2
        w = w - lr * m / (np.sqrt(v) + eps)
    return w


CASES = {
    "gd": (lambda: GradientDescent(learning_rate=0.1), lambda steps: numpy_gd(steps, 0.1)),
    "radam": (lambda: RAdam(learning_rate=0.05), lambda steps: numpy_radam(steps, 0.05)),
    "rprop": (lambda: Rprop(learning_rate=0.05), lambda steps: numpy_rprop(steps, 0.05)),
    "adabelief": (lambda: AdaBelief(learning_rate=0.05), lambda steps: numpy_adabelief(steps, 0.05)),
    "yogi": (lambda: Yogi(learning_rate=0.05), lambda steps: numpy_yogi(steps, 0.05)),
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


def test_radam_takes_both_branches_within_twenty_steps():
    rho_inf = 2 / (1 - 0.999) - 1
    rho = [rho_inf - 2 * t * 0.999**t / (1 - 0.999**t) for t in (1, 20)]
    assert rho[0] <= 5 < rho[1]
