"""The one train step of every experiment, as the compiled loop takes it.

`make_train_step` is the tutorials' `tf.GradientTape` step as a function of one batch; it creates no
variables, so a `tf.distribute` strategy can run it per replica. `make_step_body` makes it a step of a run,
which the compiled loop (trainer/loop/loops.py) takes many times in one `tf.function` call, so that Python
stays out of the hot loop.
"""

import dataclasses
import functools
from collections.abc import Callable

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


def uses_xla(settings, runtime) -> bool:
    """Whether XLA compiles the run's step (`trainer.jit_compile`; by default unless deterministic), on one
    replica; `loop_kind` says how its loop then takes it."""
    jit_compile = not settings.deterministic if settings.jit_compile is None else settings.jit_compile
    return jit_compile and runtime.replicas == 1


def loop_kind(settings, runtime, batches) -> tuple[bool, bool]:
    """(whether XLA compiles a run's whole loop, whether the loop runs in segments: trainer/loop/loops.py). Where
    XLA compiles the step, it compiles the whole loop if the loop gathers no data, else the step alone, and the
    loop runs in segments."""
    xla = uses_xla(settings, runtime)
    whole = xla and isinstance(batches, NoBatches)
    return whole, xla and not whole


@dataclasses.dataclass(frozen=True)
class StepBody:
    """One run's step as its compiled loop (trainer/loop/loops.py) takes it: `order()` draws a new epoch's order
    of batches, `plain()` takes a step and gives its loss, and `full(index, num_steps, count) -> (gradient norm,
    loss, count)` takes one that also computes the gradient norm, where the call wants it, and records the log
    point it reaches. A loop in segments takes `order()`, plain steps and a full one per segment, a segment being
    at most `steps_to_end(taken)` steps from `taken`, the run's `step`; a loop step by step, `order()` and a full
    step every step."""

    step: tf.Variable
    order: Callable
    plain: Callable
    full: Callable
    steps_to_end: Callable


def make_step_body(strategy, train_step, batches, pipeline: str, step, loss_mean, optimizer, jit_compile: bool,
                   points):  # fmt: skip
    """A run's `StepBody`: each step the batch of `step`, `train_step` on every replica (`strategy.run`), their
    losses averaged and `step` advanced; a segment's last step also records the log point it reaches in `points`
    (trainer/loop/points.py) as the call's `count`-th.

    `batches` gives each step's (x, y) from `step` on, by `pipeline` (trainer/data.py): the global batch,
    sliced per replica, or per-replica batches already. The gradient norm (`summed_gradient_norm`) is computed
    for a call's last step and its log points only. With `jit_compile` and data to gather, XLA compiles the step
    alone: XLA copies large captured tensors, such as a data set, on every iteration of a compiled loop.
    """
    source = batches.source(pipeline, step)
    slices = batches.global_batches and strategy.num_replicas_in_sync > 1

    def counted_step(x, y):
        if slices:
            x, y = replica_slice(x), replica_slice(y)
        loss, gradients = train_step(*source.read(x, y))
        loss_mean.update_state(loss)
        return loss, gradients

    if jit_compile and not isinstance(batches, NoBatches):
        counted_step = per_run_function(counted_step, jit_compile=True, autograph=False)

    def stepped():
        x, y = source.next_batch()
        losses, gradients = strategy.run(counted_step, args=(x, y))
        step.assign_add(1)
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None), gradients

    def full(index, num_steps, count):
        at_point = tf.equal((step + 1) % points.log_every, 0)
        loss, gradients = stepped()
        wanted = tf.logical_or(tf.equal(index, num_steps - 1), at_point)
        norm = tf.cond(wanted, lambda: summed_gradient_norm(strategy, gradients, optimizer), lambda: 0.0)
        count = tf.cond(at_point, lambda: points.record(count, step.value(), norm), lambda: count)
        return norm, loss, count

    def steps_to_end(taken):
        to_point = points.log_every - taken % points.log_every
        return to_point if source.to_epoch_end is None else tf.minimum(to_point, source.to_epoch_end(taken))

    return StepBody(step=step, order=source.order, plain=lambda: stepped()[0], full=full, steps_to_end=steps_to_end)


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
