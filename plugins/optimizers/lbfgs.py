"""L-BFGS (Liu and Nocedal 1989) with PyTorch's `torch.optim.LBFGS` rule, defaults and strong-Wolfe line
search, run inside the compiled train step through its loss closure.

One optimizer step runs up to `max_iter` inner iterations on the step's batch. With g the gradient and
(s_i, y_i) the last `history_size` steps and gradient changes with y_i's_i > 1e-10:

    d = -H g         (the two-loop recursion, H_0 = (y's / y'y) I of the newest pair; d = -g at first)
    t = lr           (min(1, 1 / sum|g|) lr on the very first iteration)
    line_search == "strong_wolfe":  t from a search along d for the strong Wolfe conditions
                                     (c1 = 1e-4, c2 = 0.9, at most 25 evaluations; cubic interpolation)
    x <- x + t d

It stops early when max|g| <= tolerance_grad, d'g > -tolerance_change, max|t d| <= tolerance_change,
the loss changes by less than tolerance_change, or after max_eval evaluations. The history, the last
direction and step carry over to the next optimizer step, as in PyTorch.

References: D. C. Liu and J. Nocedal, "On the limited memory BFGS method for large scale optimization",
Mathematical Programming 45, 1989; J. Nocedal and S. J. Wright, "Numerical Optimization", 2nd ed.,
Springer 2006, algorithms 3.5, 3.6 and 7.4.
"""

import math

import keras
import tensorflow as tf

from trainer.config.ranges import valid
from trainer.errors import ConfigError
from trainer.optimizers import ClosureOptimizer, value_and_gradients

LINE_SEARCHES = ("strong_wolfe", None)


@keras.saving.register_keras_serializable(package="trainer")
@valid(
    max_iter="int >= 1",
    max_eval="int >= 1 or null",
    tolerance_grad=">= 0",
    tolerance_change=">= 0",
    history_size="int >= 1",
    line_search="one of strong_wolfe, null",
)
class LBFGS(ClosureOptimizer):
    def __init__(
        self,
        learning_rate=1.0,
        max_iter=20,
        max_eval=None,
        tolerance_grad=1e-7,
        tolerance_change=1e-9,
        history_size=100,
        line_search="strong_wolfe",
        name="lbfgs",
        **kwargs,
    ):
        if line_search not in LINE_SEARCHES:
            raise ConfigError(f"optimizer.line_search must be strong_wolfe or null; got {line_search!r}")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.max_iter, self.max_eval = max_iter, max_eval if max_eval is not None else max_iter * 5 // 4
        self.tolerance_grad, self.tolerance_change = tolerance_grad, tolerance_change
        self.history_size, self.line_search = history_size, line_search

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        n, m = sum(math.prod(v.shape) for v in var_list), self.history_size
        dtype = var_list[0].dtype
        state = {
            "direction": [n],
            "previous_gradient": [n],
            "old_gradient_changes": [m, n],
            "old_steps": [m, n],
            "old_rho": [m],
            "step_size": [],
            "previous_loss": [],
            "scale": [],
        }
        for name, shape in state.items():
            setattr(self, f"_{name}", self.add_variable(shape, initializer="zeros", dtype=dtype, name=name))
        self._history_count = self.add_variable([], initializer="zeros", dtype="int32", name="history_count")
        self._total_iterations = self.add_variable([], initializer="zeros", dtype="int32", name="total_iterations")

    def apply_closure(self, closure, variables):
        if not self.built:
            self.build(variables)
        shapes = [v.shape for v in variables]
        sizes = [math.prod(v.shape) for v in variables]

        def flat(tensors):
            return tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)

        def set_parameters(x):
            for variable, piece, shape in zip(variables, tf.split(x, sizes), shapes):
                variable.assign(tf.reshape(piece, shape))

        def evaluate(x):
            """Loss and flat gradient at parameters x (the variables are left at x)."""
            set_parameters(x)
            loss, _, gradients = value_and_gradients(closure, variables)
            return tf.cast(loss, x.dtype), flat(gradients)

        loss, prediction, gradients = value_and_gradients(closure, variables)
        first_loss, first_gradients = loss, gradients
        x, g, loss = flat(variables), flat(gradients), tf.cast(loss, self._direction.dtype)
        dtype = x.dtype
        lr = tf.cast(self.learning_rate, dtype)
        tol_change = tf.constant(self.tolerance_change, dtype)

        def iterate(n_iter, evals, x, loss, g, stop):
            self._total_iterations.assign_add(1)
            first = tf.equal(self._total_iterations, 1)
            d = tf.cond(first, lambda: self._reset_history(g), lambda: self._two_loop(g))
            self._previous_gradient.assign(g)
            self._previous_loss.assign(loss)
            t = tf.where(first, tf.minimum(tf.constant(1.0, dtype), 1.0 / tf.reduce_sum(tf.abs(g))) * lr, lr)
            gtd = tf.tensordot(g, d, 1)
            descent = gtd <= -tol_change  # otherwise PyTorch stops before stepping

            def step_along_d():
                if self.line_search == "strong_wolfe":
                    return strong_wolfe(evaluate, x, t, d, loss, g, gtd, tol_change)
                last = tf.equal(n_iter + 1, self.max_iter)  # PyTorch skips the evaluation after the last step
                new_loss, new_g = tf.cond(last, lambda: (loss, g), lambda: evaluate(x + t * d))
                return new_loss, new_g, t, tf.where(last, 0, 1)

            new_loss, new_g, t, ls_evals = tf.cond(descent, step_along_d, lambda: (loss, g, t, tf.constant(0)))
            x_new = tf.where(descent, x + t * d, x)
            set_parameters(x_new)
            self._direction.assign(d)
            self._step_size.assign(t)
            loss_new, g_new = tf.where(descent, new_loss, loss), tf.where(descent, new_g, g)
            evals += tf.where(descent, ls_evals, 0)
            stop = tf.logical_or(
                tf.logical_not(descent),
                tf.reduce_any(
                    [
                        evals >= self.max_eval,
                        tf.reduce_max(tf.abs(g_new)) <= self.tolerance_grad,
                        tf.reduce_max(tf.abs(d * t)) <= tol_change,
                        tf.abs(loss_new - loss) < tol_change,
                    ]
                ),
            )
            return n_iter + 1, evals, x_new, loss_new, g_new, stop

        converged = tf.reduce_max(tf.abs(g)) <= self.tolerance_grad
        tf.while_loop(
            lambda n_iter, evals, x, loss, g, stop: tf.logical_and(n_iter < self.max_iter, tf.logical_not(stop)),
            iterate,
            (tf.constant(0), tf.constant(1), x, loss, g, converged),
        )
        self.iterations.assign_add(1)
        return first_loss, prediction, first_gradients

    def _reset_history(self, g):
        self._history_count.assign(0)
        self._scale.assign(1.0)
        return -g

    def _two_loop(self, g):
        """PyTorch's direction update: store (y, s) if y's > 1e-10, then d = -H g by the two-loop recursion."""
        y = g - self._previous_gradient
        s = self._direction * self._step_size
        ys = tf.tensordot(y, s, 1)

        def store():
            m = self.history_size
            self._old_gradient_changes.assign(tf.concat([self._old_gradient_changes[1:], y[None]], 0))
            self._old_steps.assign(tf.concat([self._old_steps[1:], s[None]], 0))
            self._old_rho.assign(tf.concat([self._old_rho[1:], [1.0 / ys]], 0))
            self._history_count.assign(tf.minimum(self._history_count + 1, m))
            self._scale.assign(ys / tf.tensordot(y, y, 1))
            return tf.constant(True)

        tf.cond(ys > 1e-10, store, lambda: tf.constant(False))
        m, count = self.history_size, self._history_count
        ys_all, ss_all, rho = self._old_gradient_changes, self._old_steps, self._old_rho

        def backward(i, q, alphas):  # newest to oldest
            alpha = tf.tensordot(ss_all[i], q, 1) * rho[i]
            return i - 1, q - alpha * ys_all[i], tf.tensor_scatter_nd_update(alphas, [[i]], [alpha])

        _, q, alphas = tf.while_loop(
            lambda i, q, a: i >= m - count, backward, (tf.constant(m - 1), -g, tf.zeros([m], g.dtype))
        )

        def forward(i, r):  # oldest to newest
            beta = tf.tensordot(ys_all[i], r, 1) * rho[i]
            return i + 1, r + ss_all[i] * (alphas[i] - beta)

        _, r = tf.while_loop(lambda i, r: i < m, forward, (m - count, q * self._scale))
        return r

    def get_config(self):
        return {
            **super().get_config(),
            "max_iter": self.max_iter,
            "max_eval": self.max_eval,
            "tolerance_grad": self.tolerance_grad,
            "tolerance_change": self.tolerance_change,
            "history_size": self.history_size,
            "line_search": self.line_search,
        }


def cubic_minimum(x1, f1, g1, x2, f2, g2, low=None, high=None):
    """PyTorch's `_cubic_interpolate`: the minimizer of the cubic through two points with their slopes,
    clipped to [low, high] (the points' interval by default); the middle where the cubic has none."""
    if low is None:
        low, high = tf.minimum(x1, x2), tf.maximum(x1, x2)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    d2 = tf.sqrt(tf.maximum(d2_square, 0.0))
    position = tf.where(
        x1 <= x2,
        x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)),
        x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)),
    )
    return tf.where(d2_square >= 0, tf.minimum(tf.maximum(position, low), high), (low + high) / 2)


def strong_wolfe(evaluate, x, t, d, f, g, gtd, tolerance_change, c1=1e-4, c2=0.9, max_ls=25):
    """PyTorch's `_strong_wolfe`: bracket a step t along d that meets the strong Wolfe conditions, then zoom.
    Returns the loss and gradient at x + t d, t, and the number of evaluations."""
    d_norm = tf.reduce_max(tf.abs(d))
    f_new, g_new = evaluate(x + t * d)
    gtd_new = tf.tensordot(g_new, d, 1)
    zero = tf.zeros_like(t)
    # Bracket state: step sizes, losses, gradients, directional derivatives; entry 1 unused when `done`.
    state = dict(
        ls_iter=tf.constant(0),
        evals=tf.constant(1),
        t=t,
        f_new=f_new,
        g_new=g_new,
        gtd_new=gtd_new,
        t_prev=zero,
        f_prev=f,
        g_prev=g,
        gtd_prev=gtd,
        found=tf.constant(False),
        done=tf.constant(False),
    )

    def bracket_phase(s):
        armijo_fails = tf.logical_or(
            s["f_new"] > f + c1 * s["t"] * gtd, tf.logical_and(s["ls_iter"] > 1, s["f_new"] >= s["f_prev"])
        )
        curvature = tf.abs(s["gtd_new"]) <= -c2 * gtd
        brackets = tf.logical_or(armijo_fails, tf.logical_and(tf.logical_not(curvature), s["gtd_new"] >= 0))
        done = tf.logical_and(tf.logical_not(armijo_fails), curvature)

        def extrapolate():
            t_next = cubic_minimum(
                s["t_prev"],
                s["f_prev"],
                s["gtd_prev"],
                s["t"],
                s["f_new"],
                s["gtd_new"],
                s["t"] + 0.01 * (s["t"] - s["t_prev"]),
                s["t"] * 10,
            )
            f_next, g_next = evaluate(x + t_next * d)
            return dict(
                s,
                ls_iter=s["ls_iter"] + 1,
                evals=s["evals"] + 1,
                t=t_next,
                f_new=f_next,
                g_new=g_next,
                gtd_new=tf.tensordot(g_next, d, 1),
                t_prev=s["t"],
                f_prev=s["f_new"],
                g_prev=s["g_new"],
                gtd_prev=s["gtd_new"],
            )

        stopped = dict(s, found=tf.logical_or(brackets, done), done=done)
        return tf.cond(tf.logical_or(brackets, done), lambda: stopped, extrapolate)

    s = tf.while_loop(
        lambda s: tf.logical_and(tf.logical_not(s["found"]), s["ls_iter"] < max_ls),
        lambda s: (bracket_phase(s),),
        (state,),
    )[0]
    out_of_evaluations = tf.logical_not(s["found"])  # PyTorch then brackets [0, t]
    bracket_t = tf.where(out_of_evaluations, tf.stack([zero, s["t"]]), tf.stack([s["t_prev"], s["t"]]))
    bracket_f = tf.where(out_of_evaluations, tf.stack([f, s["f_new"]]), tf.stack([s["f_prev"], s["f_new"]]))
    bracket_g = tf.where(out_of_evaluations, tf.stack([g, s["g_new"]]), tf.stack([s["g_prev"], s["g_new"]]))
    bracket_gtd = tf.stack([s["gtd_prev"], s["gtd_new"]])
    # When the first phase met both conditions, the answer is its last point: entry 1 of the bracket.
    low = tf.where(s["done"], 1, tf.where(bracket_f[0] <= bracket_f[1], 0, 1))

    def put(values, index, value):
        mask = tf.reshape(tf.equal(tf.range(2), index), [2] + [1] * (len(values.shape) - 1))
        return tf.where(mask, value[None] if len(values.shape) > 1 else value, values)

    def zoom(z):
        bt, bf, bg, bgtd, low, insufficient = z["t"], z["f"], z["g"], z["gtd"], z["low"], z["insufficient"]
        high = 1 - low
        t_new = cubic_minimum(bt[0], bf[0], bgtd[0], bt[1], bf[1], bgtd[1])
        top, bottom = tf.reduce_max(bt), tf.reduce_min(bt)
        eps = 0.1 * (top - bottom)
        close = tf.minimum(top - t_new, t_new - bottom) < eps
        at_edge = tf.logical_or(insufficient, tf.logical_or(t_new >= top, t_new <= bottom))
        moved = tf.where(tf.abs(t_new - top) < tf.abs(t_new - bottom), top - eps, bottom + eps)
        t_new = tf.where(tf.logical_and(close, at_edge), moved, t_new)
        insufficient = tf.logical_and(close, tf.logical_not(at_edge))
        f_new, g_new = evaluate(x + t_new * d)
        gtd_new = tf.tensordot(g_new, d, 1)
        replaces_high = tf.logical_or(f_new > f + c1 * t_new * gtd, f_new >= tf.gather(bf, low))
        done = tf.logical_and(tf.logical_not(replaces_high), tf.abs(gtd_new) <= -c2 * gtd)
        # Not replacing the high end: the old low end becomes the high end where the slope says so.
        swap = tf.logical_and(
            tf.logical_not(replaces_high),
            tf.logical_and(tf.logical_not(done), gtd_new * (tf.gather(bt, high) - tf.gather(bt, low)) >= 0),
        )
        bt, bf, bg, bgtd = (tf.where(swap, put(a, high, tf.gather(a, low)), a) for a in (bt, bf, bg, bgtd))
        target = tf.where(replaces_high, high, low)
        bt, bf, bg, bgtd = (put(a, target, v) for a, v in ((bt, t_new), (bf, f_new), (bg, g_new), (bgtd, gtd_new)))
        low = tf.where(replaces_high, tf.where(bf[0] <= bf[1], 0, 1), low)
        return dict(
            z,
            t=bt,
            f=bf,
            g=bg,
            gtd=bgtd,
            low=low,
            insufficient=insufficient,
            done=done,
            ls_iter=z["ls_iter"] + 1,
            evals=z["evals"] + 1,
        )

    zoom_state = dict(
        t=bracket_t,
        f=bracket_f,
        g=bracket_g,
        gtd=bracket_gtd,
        low=low,
        insufficient=tf.constant(False),
        done=s["done"],
        ls_iter=s["ls_iter"],
        evals=s["evals"],
    )
    z = tf.while_loop(
        lambda z: tf.reduce_all(
            [
                tf.logical_not(z["done"]),
                z["ls_iter"] < max_ls,
                tf.abs(z["t"][1] - z["t"][0]) * d_norm >= tolerance_change,
            ]
        ),
        lambda z: (zoom(z),),
        (zoom_state,),
    )[0]
    return tf.gather(z["f"], z["low"]), tf.gather(z["g"], z["low"]), tf.gather(z["t"], z["low"]), z["evals"]
