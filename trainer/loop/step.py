"""The one train step of every experiment, and the compiled loop that runs it.

`make_train_step` is the tutorials' `tf.GradientTape` step as a function of one batch; it creates no
variables, so a `tf.distribute` strategy can run it per replica. `make_train_loop` compiles many steps
into one `tf.function` call so that Python stays out of the hot loop.
"""

import functools

import keras
import tensorflow as tf

from trainer.config.checks import MEAN_REDUCTIONS
from trainer.loop.batching import NoBatches, replica_slice
from trainer.optimizers import ClosureOptimizer


def per_run_function(python_function, **options):
    """`tf.function(python_function, **options)` for a function made anew for each run, or each call of
    `trainer.minimize`. TensorFlow counts traces by the Python function's code and warns of "excessive
    retracing" from the fifth: a sweep's jobs in one process, or a notebook's learning-rate scan, would
    trigger it, although each job traces its own function once. A partial has no code of its own."""
    return tf.function(functools.partial(python_function), **options)


def make_train_step(model, loss_fn, optimizer, metrics, replicas: int = 1):
    """A replica's step `(x, y) -> (loss, gradients)`: forward, loss, gradients, update, metrics.

    Under a strategy with several replicas, each differentiates its share of the global batch's mean loss,
    the optimizer sums the shares' gradients over the replicas, and the loss returned (and counted in the
    metrics) is the replica's own mean, which `strategy.reduce` averages. Keras losses with a mean reduction
    divide by the replica count themselves (Keras >= 3.8); any other loss is divided here, and so are the
    model's own losses (its regularizers: 3c3d's weight decay), added as Keras' `fit` adds them. A
    `ClosureOptimizer` takes the step itself from the loss closure (trainer/optimizers.py), chosen as it traces.

    AutoGraph converts the code of the plugins that the step calls, which may be written as for a
    `tf.function` (`int(tf.size(v))`); the step's own code needs none, and converting it took 0.1 s a process.
    """
    divides_itself = isinstance(loss_fn, keras.losses.Loss) and loss_fn.reduction in MEAN_REDUCTIONS

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

    def train_step(x, y):
        def closure():
            loss, prediction = forward(x, y)
            share = loss if replicas == 1 or divides_itself else loss / replicas
            penalties = getattr(model, "losses", [])  # none for most models, and every scalar problem
            return (share + tf.add_n(penalties) / replicas if penalties else share), prediction

        variables = model.trainable_variables
        if isinstance(optimizer, ClosureOptimizer):
            share, prediction, gradients = apply_closure(closure, variables)
        else:
            with tf.GradientTape() as tape:
                share, prediction = closure()
                scaled_loss = optimizer.scale_loss(share)  # loss scaling under mixed_float16, else the loss
            gradients = tape.gradient(scaled_loss, variables)
            optimizer.apply_gradients(zip(gradients, variables))  # sums over replicas, unscales
        update_metrics(y, prediction)
        return tf.cast(share if replicas == 1 else share * replicas, tf.float32), gradients

    return train_step


def make_train_loop(strategy, train_step, batches, pipeline: str, step, loss_mean, optimizer, jit_compile: bool,
                    points):  # fmt: skip
    """A compiled `train_loop(num_steps) -> (the last step's gradient norm, its loss, the log points passed)`
    that advances `step`, recording each log point in `points` (trainer/loop/points.py).

    `batches` gives each step's (x, y) from `step` on, by `pipeline` (trainer/data.py): the global batch,
    sliced per replica, or per-replica batches already. Each step runs `train_step` on every replica
    (`strategy.run`) and averages their losses. The number of steps is a tensor argument, so calls of any length
    share one trace. The loop stops after the first step whose loss is not finite.

    The gradient norm (`summed_gradient_norm`) is computed for a call's last step and its log points only. With
    `jit_compile`, XLA compiles the whole loop when it gathers no data, and only the step when it does:
    XLA copies large captured tensors, such as a data set, on every iteration. Neither needs AutoGraph.
    """
    next_batch = batches.source(pipeline, step)
    gathers_data = not isinstance(batches, NoBatches)
    slices = batches.global_batches and strategy.num_replicas_in_sync > 1

    def counted_step(x, y):
        if slices:
            x, y = replica_slice(x), replica_slice(y)
        loss, gradients = train_step(x, y)
        loss_mean.update_state(loss)
        return loss, gradients

    if jit_compile and gathers_data:
        counted_step = per_run_function(counted_step, jit_compile=True, autograph=False)

    def train_loop(num_steps):
        def running(index, norm, loss, count):
            return tf.logical_and(index < num_steps, tf.math.is_finite(loss))

        def one_step(index, norm, loss, count):
            x, y = next_batch()
            losses, gradients = strategy.run(counted_step, args=(x, y))
            loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None)
            at_point = tf.equal((step + 1) % points.log_every, 0)
            wanted = tf.logical_or(tf.equal(index, num_steps - 1), at_point)
            norm = tf.cond(wanted, lambda: summed_gradient_norm(strategy, gradients, optimizer), lambda: 0.0)
            step.assign_add(1)
            count = tf.cond(at_point, lambda: points.record(count, step.value(), norm), lambda: count)
            return index + 1, norm, loss, count

        start = (tf.constant(0, tf.int64), tf.constant(0.0), tf.constant(0.0), tf.constant(0))
        _, norm, loss, count = tf.while_loop(running, one_step, start)
        return norm, loss, count

    return per_run_function(train_loop, jit_compile=jit_compile and not gathers_data, autograph=False)


def summed_gradient_norm(strategy, gradients, optimizer) -> tf.Tensor:
    """The global norm of the gradient summed over the replicas, without the optimizer's loss scaling.
    It costs a pass over every gradient (10% of an MNIST step) and, under several replicas, their sum."""
    summed = [
        strategy.reduce(tf.distribute.ReduceOp.SUM, gradient, axis=None)
        for gradient in gradients
        if gradient is not None
    ]  # None: a variable the loss does not use
    return tf.cast(tf.linalg.global_norm(summed), tf.float32) / optimizer.scale_loss(1.0)


def make_gradients(model, loss_fn, training: bool = False):
    """A compiled `gradients(x, y)`: the loss's gradient for each trainable variable on one batch, no step
    taken. What the gradient histograms show, and, `training` as a step computes it, the gradient noise."""

    @per_run_function
    def gradients(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=training))
        return tape.gradient(loss, model.trainable_variables)

    return gradients
