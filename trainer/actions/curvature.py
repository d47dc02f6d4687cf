"""Curvature every `every` steps (none by default), on one probe batch (the first `trainer.batch_size`
training examples; a scalar problem has none): the Hessian's largest eigenvalue by power iteration on
Hessian-vector products, logged beside 2 / learning rate, where gradient descent stops being stable (the
edge of stability, Cohen et al. 2021), and the Hessian's trace by Hutchinson's estimator with its standard
error, as diagnostics/sharpness, diagnostics/two_over_learning_rate, diagnostics/hessian_trace and
diagnostics/hessian_trace_stderr; at the end (`logging.pictures`), the first two over the run as the picture
edge_of_stability. Its random vectors come from stateless seeds of their own, so that the
run's numbers are those of a run without it. Each time it is due it costs `iterations + probes`
Hessian-vector products, each about two gradients.

Reference: M. F. Hutchinson, "A stochastic estimator of the trace of the influence matrix for Laplacian
smoothing splines", Communications in Statistics - Simulation and Computation 19(2), 1990."""

import tensorflow as tf

from trainer.actions.base import Action, log_scalars
from trainer.actions.pictures import draw_logged
from trainer.config.ranges import valid
from trainer.loop.step import per_run_function


@valid(every="int >= 1", iterations="int >= 1", probes="int >= 2")
class Curvature(Action):
    def __init__(self, every: int | None = None, iterations: int = 20, probes: int = 10):
        self.every, self.iterations, self.probes = every, iterations, probes

    def begin(self, run, loop) -> None:
        if self.every:
            self.variables = run.model.trainable_variables
            self.product = make_hessian_vector_product(run.model, run.loss_fn, *run.first_batch())

    def act(self, run, loop) -> None:
        seed = tf.constant([run.cfg.trainer.seed, loop.done], tf.int64)
        trace, stderr = hutchinson_trace(self.product, self.variables, self.probes, seed)
        values = {
            "diagnostics/sharpness": largest_eigenvalue(self.product, self.variables, self.iterations, seed),
            "diagnostics/two_over_learning_rate": 2 / float(run.optimizer.learning_rate.numpy()),
            "diagnostics/hessian_trace": trace,
            "diagnostics/hessian_trace_stderr": stderr,
        }
        log_scalars(loop, values)

    def end(self, run, loop) -> None:
        if self.every:
            curves = {"sharpness (largest Hessian eigenvalue)": "diagnostics/sharpness"}
            reference = ("2 / learning rate", "diagnostics/two_over_learning_rate")
            draw_logged(run, loop, "edge_of_stability", "Edge of stability", curves, reference)


def make_hessian_vector_product(model, loss_fn, x, y):
    """A compiled `product(vectors) -> H @ vectors`: the Hessian of the loss on the batch (x, y) at the current
    weights, times `vectors` (one tensor per trainable variable), by differentiating the gradient's dot
    product with them."""
    variables = model.trainable_variables

    @per_run_function
    def product(vectors):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss = loss_fn(y, model(x, training=False))
            gradients = inner.gradient(loss, variables)
            projection = tf.add_n([tf.reduce_sum(g * tf.cast(v, g.dtype)) for g, v in zip(gradients, vectors)])
        return outer.gradient(projection, variables)

    return product


def dot(first, second) -> tf.Tensor:
    return tf.add_n([tf.reduce_sum(tf.cast(a, tf.float64) * tf.cast(b, tf.float64)) for a, b in zip(first, second)])


def largest_eigenvalue(product, variables, iterations: int, seed: tf.Tensor) -> float:
    """The Hessian's eigenvalue of largest magnitude, by `iterations` steps of power iteration from a random
    start: the Rayleigh quotient of the last vector."""
    vectors = [tf.random.stateless_normal(v.shape, seed, dtype=tf.float32) for v in variables]
    eigenvalue = tf.constant(0.0, tf.float64)
    for _ in range(iterations):
        norm = tf.sqrt(dot(vectors, vectors))
        vectors = [v / tf.cast(norm, v.dtype) for v in vectors]
        image = product(vectors)
        eigenvalue = dot(vectors, image)
        vectors = image
    return float(eigenvalue)


def hutchinson_trace(product, variables, probes: int, seed: tf.Tensor) -> tuple[float, float]:
    """The Hessian's trace as the mean of z'Hz over `probes` Rademacher vectors z, and its standard error."""
    samples = []
    for probe in range(probes):
        signs = [
            tf.sign(tf.random.stateless_uniform(v.shape, seed + [0, 1 + probe * len(variables) + i]) - 0.5)
            for i, v in enumerate(variables)
        ]
        samples.append(float(dot(signs, product(signs))))
    mean = sum(samples) / probes
    variance = sum((sample - mean) ** 2 for sample in samples) / (probes - 1)
    return mean, (variance / probes) ** 0.5
