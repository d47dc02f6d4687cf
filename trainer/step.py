"""The one train step of every experiment, the compiled loop that runs it, and evaluation.

`make_train_step` is the tutorials' `tf.GradientTape` step as a function of one batch; it creates no
variables, so a `tf.distribute` strategy can run it per replica. `make_train_loop` compiles many steps
into one `tf.function` call so that Python stays out of the hot loop.
"""
import functools

import numpy as np
import tensorflow as tf

from trainer.optimizers import ClosureOptimizer


def per_run_function(python_function, **options):
    """`tf.function(python_function, **options)` for a function made anew for each run, or each call of
    `trainer.minimize`. TensorFlow counts traces by the Python function's code and warns of "excessive
    retracing" from the fifth: a sweep's jobs in one process, or a notebook's learning-rate scan, would
    trigger it, although each job traces its own function once. A partial has no code of its own."""
    return tf.function(functools.partial(python_function), **options)


def make_train_step(model, loss_fn, optimizer, metrics):
    """A step `(x, y, with_norm) -> (loss, gradient_norm)`: forward, loss, gradients, update, metrics.

    The global gradient norm costs a pass over every gradient (10% of an MNIST step), so it is computed
    only where `with_norm`, a boolean tensor, is true; elsewhere it is 0. A `ClosureOptimizer` takes the
    step itself from the loss closure (trainer/optimizers.py); the choice is made once, while tracing.

    AutoGraph converts the code of the plugins that the step calls, which may be written as for a
    `tf.function` (`int(tf.size(v))`); the step's own code needs none, and converting it took 0.1 s a process.
    """

    @tf.autograph.to_graph
    def forward(x, y):
        prediction = model(x, training=True)
        return loss_fn(y, prediction), prediction

    @tf.autograph.to_graph
    def apply_closure(closure, variables):
        return optimizer.apply_closure(closure, variables)

    @tf.autograph.to_graph
    def update_metrics(y, prediction):
        for metric in metrics.values():
            metric.update_state(y, prediction)

    def train_step(x, y, with_norm):
        def closure():
            return forward(x, y)

        variables = model.trainable_variables
        if isinstance(optimizer, ClosureOptimizer):
            loss, prediction, gradients = apply_closure(closure, variables)
        else:
            with tf.GradientTape() as tape:
                loss, prediction = closure()
                scaled_loss = optimizer.scale_loss(loss)  # loss scaling under mixed_float16, else the loss
            gradients = tape.gradient(scaled_loss, variables)
            optimizer.apply_gradients(zip(gradients, variables))  # unscales scaled gradients first
        update_metrics(y, prediction)
        gradient_norm = tf.cond(
            with_norm,
            lambda: tf.cast(tf.linalg.global_norm(gradients), tf.float32) / optimizer.scale_loss(1.0),
            lambda: tf.constant(0.0),
        )
        return tf.cast(loss, tf.float32), gradient_norm

    return train_step


def make_train_loop(train_step, next_batch, step, loss_mean, jit_compile: bool, gathers_data: bool):
    """A compiled `train_loop(num_steps) -> (the last step's gradient norm, its loss)` that advances `step`.

    `next_batch()` gives each step's (x, y). The number of steps is a tensor argument, so calls of any
    length share one trace. The loop stops after the first step whose loss is not finite. With
    `jit_compile`, XLA compiles the whole loop when it gathers no data, and only the step when it does:
    XLA copies large captured tensors, such as a data set, on every iteration. Neither the loop nor the
    batches need AutoGraph: converting them took a third of the trace.
    """

    def counted_step(x, y, last):
        loss, gradient_norm = train_step(x, y, with_norm=last)
        loss_mean.update_state(loss)
        return gradient_norm, loss

    if jit_compile and gathers_data:
        counted_step = per_run_function(counted_step, jit_compile=True, autograph=False)

    def train_loop(num_steps):
        def running(index, gradient_norm, loss):
            return tf.logical_and(index < num_steps, tf.math.is_finite(loss))

        def one_step(index, gradient_norm, loss):
            x, y = next_batch()
            gradient_norm, loss = counted_step(x, y, tf.equal(index, num_steps - 1))
            step.assign_add(1)
            return index + 1, gradient_norm, loss

        start = (tf.constant(0, tf.int64), tf.constant(0.0), tf.constant(0.0))
        _, gradient_norm, loss = tf.while_loop(running, one_step, start)
        return gradient_norm, loss

    return per_run_function(train_loop, jit_compile=jit_compile and not gathers_data, autograph=False)


def make_gradients(model, loss_fn):
    """A compiled `gradients(x, y)`: the loss's gradient for each trainable variable on one batch, no step
    taken. What the gradient histograms show."""

    @per_run_function
    def gradients(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=False))
        return tape.gradient(loss, model.trainable_variables)

    return gradients


def make_evaluate(model, loss_fn, metrics) -> "Evaluator":
    """An `evaluate(examples, batch_size) -> {"loss": ..., metric: ...}` over all (x, y) `examples`."""
    return Evaluator(model, loss_fn, metrics)


class Evaluator:
    """`evaluator(examples, batch_size)`: the loss and metrics over all (x, y) `examples`;
    `evaluator.predict(examples, batch_size)`: the model's outputs for them.

    Both run one compiled step, traced once and reused by every pass; the metrics restart with each pass.
    `model.predict` would trace a function of its own: 0.3 s at the end of an MNIST run.
    """

    def __init__(self, model, loss_fn, metrics: dict):
        self.metrics = metrics

        @functools.partial(per_run_function, reduce_retracing=True)
        def eval_step(x, y):
            prediction = model(x, training=False)
            for metric in metrics.values():
                metric.update_state(y, prediction)
            return loss_fn(y, prediction), prediction

        self.eval_step = eval_step

    def batch_outputs(self, examples, batch_size: int):
        """(examples in the batch, their mean loss, the model's outputs) for each batch; the metrics restart first."""
        for metric in self.metrics.values():
            metric.reset_state()
        x, y = examples
        for start in range(0, len(x), batch_size):
            batch_x, batch_y = x[start : start + batch_size], y[start : start + batch_size]
            loss, prediction = self.eval_step(batch_x, batch_y)
            yield len(batch_x), float(loss), prediction

    def __call__(self, examples, batch_size: int) -> dict[str, float]:
        loss_sum = sum(count * loss for count, loss, _ in self.batch_outputs(examples, batch_size))
        return {"loss": loss_sum / len(examples[0]), **{name: float(m.result()) for name, m in self.metrics.items()}}

    def predict(self, examples, batch_size: int) -> np.ndarray:
        return np.concatenate([outputs.numpy() for _, _, outputs in self.batch_outputs(examples, batch_size)])
