"""The one train step of every experiment, and the compiled loop that runs it.

`make_train_step` is the tutorials' `tf.GradientTape` step as a function of one batch; it creates no
variables, so a `tf.distribute` strategy can run it per replica. `make_step_body` makes it a step of the
loop, and `make_train_loop` compiles many steps, of one run or of several, into one `tf.function` call so
that Python stays out of the hot loop.
"""

import functools

import keras
import tensorflow as tf

from trainer.config.checks import MEAN_REDUCTIONS
from trainer.loop.batching import NoBatches, replica_slice
from trainer.loop.points import Points
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


def make_loops(fields: dict, settings, runtime) -> tuple:
    """A run's step as its compiled loop takes it (what a population's loop takes in turn), that loop, and
    where it records its log points; `fields`: the run's parts, as `Run`'s fields name them."""
    model, optimizer = fields["model"], fields["optimizer"]
    train_step = make_train_step(model, fields["loss_fn"], optimizer, fields["metrics"], runtime.replicas)
    points = Points(fields, settings.log_every, settings.steps_per_call)
    jit_compile = uses_xla(settings, runtime)
    step_body = make_step_body(
        runtime.strategy, train_step, fields["batches"], settings.pipeline, fields["global_step"],
        fields["loss_mean"], optimizer, jit_compile=jit_compile, points=points,
    )  # fmt: skip
    train_loop = make_train_loop([step_body], loop_uses_xla(settings, runtime, fields["batches"]))
    return step_body, train_loop, points


def uses_xla(settings, runtime) -> bool:
    """Whether XLA compiles the run's step (`trainer.jit_compile`; by default unless deterministic), on one
    replica; `loop_uses_xla` says when the whole loop is compiled instead."""
    jit_compile = not settings.deterministic if settings.jit_compile is None else settings.jit_compile
    return jit_compile and runtime.replicas == 1


def loop_uses_xla(settings, runtime, batches) -> bool:
    """Whether XLA compiles a run's whole loop: where it compiles its step and the loop gathers no data."""
    return uses_xla(settings, runtime) and isinstance(batches, NoBatches)


def make_step_body(strategy, train_step, batches, pipeline: str, step, loss_mean, optimizer, jit_compile: bool,
                   points):  # fmt: skip
    """One step of a run's compiled loop, `body(index, num_steps, count) -> (gradient norm, loss, count)`: the
    batch of `step`, `train_step` on every replica (`strategy.run`), their losses averaged, `step` advanced and,
    at a log point, the point recorded in `points` (trainer/loop/points.py) as the call's `count`-th.

    `batches` gives each step's (x, y) from `step` on, by `pipeline` (trainer/data.py): the global batch,
    sliced per replica, or per-replica batches already. The gradient norm (`summed_gradient_norm`) is computed
    for a call's last step and its log points only. With `jit_compile` and data to gather, XLA compiles the step
    alone: XLA copies large captured tensors, such as a data set, on every iteration of a compiled loop.
    """
    next_batch = batches.source(pipeline, step)
    slices = batches.global_batches and strategy.num_replicas_in_sync > 1

    def counted_step(x, y):
        if slices:
            x, y = replica_slice(x), replica_slice(y)
        loss, gradients = train_step(x, y)
        loss_mean.update_state(loss)
        return loss, gradients

    if jit_compile and not isinstance(batches, NoBatches):
        counted_step = per_run_function(counted_step, jit_compile=True, autograph=False)

    def body(index, num_steps, count):
        x, y = next_batch()
        losses, gradients = strategy.run(counted_step, args=(x, y))
        loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None)
        at_point = tf.equal((step + 1) % points.log_every, 0)
        wanted = tf.logical_or(tf.equal(index, num_steps - 1), at_point)
        norm = tf.cond(wanted, lambda: summed_gradient_norm(strategy, gradients, optimizer), lambda: 0.0)
        step.assign_add(1)
        count = tf.cond(at_point, lambda: points.record(count, step.value(), norm), lambda: count)
        return norm, loss, count

    return body


def make_train_loop(bodies: list, jit_compile: bool, active: tf.Variable | None = None):
    """A compiled `train_loop(num_steps)` of the runs whose step `bodies` (`make_step_body`) it takes in turn:
    for one run, `(the last step's gradient norm, its loss, the log points passed)`; for several (a population,
    trainer/loop/population.py), a tuple of those, one per run. A run stops after its first step whose loss is
    not finite, and a population's run also where `active` (a bool per run) is false, each as it would alone;
    the call ends when no run goes on. The number of steps is a tensor argument, so calls of any length share
    one trace. With `jit_compile`, XLA compiles the whole loop where the bodies gather no data. Neither needs
    AutoGraph."""

    def train_loop(num_steps):
        def going(states) -> list:
            finite = [tf.math.is_finite(loss) for _, loss, _ in states]
            return finite if active is None else [tf.logical_and(active[i], on) for i, on in enumerate(finite)]

        def running(index, states):
            on = going(states)  # a run alone: its loss is finite, as its loop has always asked
            return tf.logical_and(index < num_steps, on[0] if len(on) == 1 else tf.reduce_any(tf.stack(on)))

        def one_step(index, states):
            if active is None:  # a run alone: the loop itself stops at a loss that is not finite
                return index + 1, [body(index, num_steps, count) for body, (_, _, count) in zip(bodies, states)]
            stepped = [
                tf.cond(on, lambda body=body, state=state: body(index, num_steps, state[2]), lambda state=state: state)
                for body, state, on in zip(bodies, states, going(states))
            ]
            return index + 1, stepped

        start = [(tf.constant(0.0), tf.constant(0.0), tf.constant(0)) for _ in bodies]
        _, states = tf.while_loop(running, one_step, (tf.constant(0, tf.int64), start))
        return tuple(states) if active is not None else states[0]

    return per_run_function(train_loop, jit_compile=jit_compile, autograph=False)


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
