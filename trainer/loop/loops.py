"""A run's compiled train loop, `make_loops`: many steps, of one run or of several (a population,
trainer/loop/population.py), in one `tf.function` call.

Where XLA compiles the step alone (the default for a run with data), the loop runs in segments, each up to
the next log point, the end of an epoch or the end of the call: every step of a segment but its last is a
plain one (`StepBody.plain`), and its last also computes the gradient norm and records the log point
(`StepBody.full`). The conditions of a log point and of a new epoch are then taken once a segment rather than
once a step: an MNIST epoch took 0.178 s rather than 0.197 s on 2 cores. And a population's runs overlap:
each run's segment is one While operation, which TensorFlow runs beside the others'. Elsewhere the loop takes
the full step every time: XLA compiling the whole loop (a scalar problem's) makes a condition cost nothing,
and without XLA the step outweighs its conditions, where a second copy of it doubled its tracing.
"""

import tensorflow as tf

from trainer.loop.points import Points
from trainer.loop.step import StepBody, loop_kind, make_step_body, make_train_step, per_run_function, uses_xla


def make_loops(fields: dict, settings, runtime) -> tuple:
    """A run's steps as its compiled loop takes them (a population's loop takes them beside its other runs'),
    that loop, and where it records its log points; `fields`: the run's parts, as `Run`'s fields name them."""
    model, optimizer, batches = fields["model"], fields["optimizer"], fields["batches"]
    train_step = make_train_step(model, fields["loss_fn"], optimizer, fields["metrics"], runtime.replicas)
    points = Points(fields, settings.log_every, settings.steps_per_call)
    step_body = make_step_body(
        runtime.strategy, train_step, batches, settings.pipeline, fields["global_step"], fields["loss_mean"],
        optimizer, jit_compile=uses_xla(settings, runtime), points=points,
    )  # fmt: skip
    return step_body, make_train_loop([step_body], *loop_kind(settings, runtime, batches)), points


def make_train_loop(bodies: list[StepBody], jit_compile: bool, in_segments: bool, active: tf.Variable | None = None):
    """A compiled `train_loop(num_steps)` of the runs whose `bodies` it takes: for one run, `(the last
    step's gradient norm, its loss, the log points passed)`; for several (a population), a tuple of those, one
    per run. A run stops after its first step whose loss is not finite, and a population's run also where
    `active` (a bool per run) is false, each as it would alone; the call ends when no run goes on. The number of
    steps is a tensor argument, so calls of any length share one trace. With `jit_compile`, XLA compiles the
    whole loop (where the bodies gather no data); `in_segments`, it runs in segments, else a step at a time.
    Neither needs AutoGraph."""
    advance = segment if in_segments else step_by_step

    def train_loop(num_steps):
        def going(states) -> list:
            finite = [tf.math.is_finite(loss) for _, loss, _ in states]
            return finite if active is None else [tf.logical_and(active[i], on) for i, on in enumerate(finite)]

        def running(index, states):
            on = going(states)  # a run alone: its loss is finite, as its loop has always asked
            return tf.logical_and(index < num_steps, on[0] if len(on) == 1 else tf.reduce_any(tf.stack(on)))

        def taken():
            # the runs that go on stand at one step: those of a population start together and step together
            return bodies[0].step if len(bodies) == 1 else tf.reduce_max([body.step for body in bodies])

        def one_segment(index, states):
            length = tf.minimum(num_steps - index, bodies[0].steps_to_end(taken())) if in_segments else 1
            if active is None:  # a run alone: the loop itself stops at a loss that is not finite
                return index + length, [advance(bodies[0], states[0], index, length, num_steps)]
            stepped = [
                tf.cond(
                    on,
                    lambda body=body, state=state: advance(body, state, index, length, num_steps),
                    lambda state=state: state,
                )
                for body, state, on in zip(bodies, states, going(states))
            ]
            return index + length, stepped

        start = [(tf.constant(0.0), tf.constant(0.0), tf.constant(0)) for _ in bodies]
        _, states = tf.while_loop(running, one_segment, (tf.constant(0, tf.int64), start))
        return tuple(states) if active is not None else states[0]

    return per_run_function(train_loop, jit_compile=jit_compile, autograph=False)


def step_by_step(body: StepBody, state: tuple, index, length, num_steps) -> tuple:
    """One full step of `body` (`length` is 1): its run's next (gradient norm, loss, count)."""
    body.order()
    return body.full(index, num_steps, state[2])


def segment(body: StepBody, state: tuple, index, length, num_steps) -> tuple:
    """`length` steps of `body` from the call's step `index`, the last one full, unless a step's loss is not
    finite: its run's (gradient norm, loss, count) after them, or after that step, where it stops (the norm 0,
    as a step that is not a log point gives it)."""
    body.order()

    def plain(taken, loss):
        return taken + 1, body.plain()

    def going(taken, loss):
        return tf.logical_and(taken < length - 1, tf.math.is_finite(loss))

    _, loss = tf.while_loop(going, plain, (tf.constant(0, tf.int64), state[1]))
    return tf.cond(
        tf.math.is_finite(loss),
        lambda: body.full(index + length - 1, num_steps, state[2]),
        lambda: (tf.constant(0.0), loss, state[2]),
    )
