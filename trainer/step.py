"""The one train step of every experiment, the compiled loop that runs it, and evaluation.

`make_train_step` is the tutorials' `tf.GradientTape` step as a function of one batch; it creates no
variables, so a `tf.distribute` strategy can run it per replica. `make_train_loop` compiles many steps
into one `tf.function` call so that Python stays out of the hot loop.
"""
import tensorflow as tf

from trainer.optimizers import ClosureOptimizer


def make_train_step(model, loss_fn, optimizer, metrics):
    """A step `(x, y, with_norm) -> (loss, gradient_norm)`: forward, loss, gradients, update, metrics.

    The global gradient norm costs a pass over every gradient (10% of an MNIST step), so it is computed
    only where `with_norm`, a boolean tensor, is true; elsewhere it is 0. A `ClosureOptimizer` takes the
    step itself from the loss closure (trainer/optimizers.py); the choice is made once, while tracing.
    """

    def train_step(x, y, with_norm):
        def closure():
            prediction = model(x, training=True)
            return loss_fn(y, prediction), prediction

        variables = model.trainable_variables
        if isinstance(optimizer, ClosureOptimizer):
            loss, prediction, gradients = optimizer.apply_closure(closure, variables)
        else:
            with tf.GradientTape() as tape:
                loss, prediction = closure()
                scaled_loss = optimizer.scale_loss(loss)  # loss scaling under mixed_float16, else the loss
            gradients = tape.gradient(scaled_loss, variables)
            optimizer.apply_gradients(zip(gradients, variables))  # unscales scaled gradients first
        for metric in metrics.values():
            metric.update_state(y, prediction)
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
    XLA copies large captured tensors, such as a data set, on every iteration.
    """

    def counted_step(x, y, last):
        loss, gradient_norm = train_step(x, y, with_norm=last)
        loss_mean.update_state(loss)
        return gradient_norm, loss

    if jit_compile and gathers_data:
        counted_step = tf.function(counted_step, jit_compile=True)

    @tf.function(jit_compile=jit_compile and not gathers_data)
    def train_loop(num_steps):
        gradient_norm, loss = tf.constant(0.0), tf.constant(0.0)
        for index in tf.range(num_steps):
            x, y = next_batch()
            gradient_norm, loss = counted_step(x, y, tf.equal(index, num_steps - 1))
            step.assign_add(1)
            if not tf.math.is_finite(loss):
                break
        return gradient_norm, loss

    return train_loop


def make_gradients(model, loss_fn):
    """A compiled `gradients(x, y)`: the loss's gradient for each trainable variable on one batch, no step
    taken. What the gradient histograms show."""

    @tf.function
    def gradients(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=False))
        return tape.gradient(loss, model.trainable_variables)

    return gradients


def make_evaluate(model, loss_fn, metrics):
    """An `evaluate(examples, batch_size) -> {"loss": ..., metric: ...}` over all (x, y) `examples`.

    Its compiled step is traced once and reused by every evaluation; the metrics restart each time.
    """

    @tf.function(reduce_retracing=True)
    def eval_step(x, y):
        prediction = model(x, training=False)
        for metric in metrics.values():
            metric.update_state(y, prediction)
        return loss_fn(y, prediction)

    def evaluate(examples, batch_size: int) -> dict[str, float]:
        for metric in metrics.values():
            metric.reset_state()
        x, y = examples
        loss_sum = 0.0
        for start in range(0, len(x), batch_size):
            batch_x, batch_y = x[start : start + batch_size], y[start : start + batch_size]
            loss_sum += float(eval_step(batch_x, batch_y)) * len(batch_x)
        return {"loss": loss_sum / len(x), **{name: float(metric.result()) for name, metric in metrics.items()}}

    return evaluate
