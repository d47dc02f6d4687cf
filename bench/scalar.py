"""Scalar minimization, f(x) = 2x^2 + x + 3 with SGD: microseconds per step, framework vs. hand-written loops."""

import keras
import tensorflow as tf

from bench.common import Section, config, median_seconds
from trainer.loop.build import build_training

LEARNING_RATE = 0.1


def framework_step(steps: int, repeats: int, *overrides: str) -> float:
    """Seconds per step of the framework's compiled loop, `steps` steps per call, compilation excluded."""
    run = build_training(config(f"trainer.steps={steps}", f"optimizer.learning_rate={LEARNING_RATE}", *overrides))
    count = tf.constant(steps, tf.int64)
    run.train_loop(count)
    return median_seconds(lambda: run.train_loop(count), repeats) / steps


def tutorial_step(x, optimizer):
    """The tutorials' step: GradientTape, gradient, apply_gradients."""
    with tf.GradientTape() as tape:
        loss = 2 * x * x + x + 3
    optimizer.apply_gradients([(tape.gradient(loss, x), x)])


def eager_step(steps: int, repeats: int, compiled: bool) -> float:
    """Seconds per step of the tutorial loop in Python, eager or with the step in a tf.function."""
    x = tf.Variable(5.0)
    optimizer = keras.optimizers.SGD(LEARNING_RATE)
    optimizer.build([x])

    def one_step():
        tutorial_step(x, optimizer)

    step = tf.function(one_step) if compiled else one_step
    step()

    def loop():
        for _ in range(steps):
            step()

    return median_seconds(loop, repeats) / steps


def float_step(steps: int, repeats: int) -> float:
    """Seconds per step of plain Python floats with the gradient written by hand: the floor."""

    def loop():
        x = 5.0
        for _ in range(steps):
            x -= LEARNING_RATE * (4 * x + 1)

    return median_seconds(loop, repeats) / steps


def scalar_section(repeats: int, steps: int = 1000) -> Section:
    eager_steps = max(steps // 10, 10)  # the eager loop is slow; fewer steps give the same per-step figure
    timings = {
        "framework: compiled loop (XLA, default)": framework_step(steps, repeats, f"trainer.log_every={steps}"),
        "framework: compiled loop, jit_compile=false": framework_step(
            steps, repeats, f"trainer.log_every={steps}", "trainer.jit_compile=false"
        ),
        "framework: 10 steps per call (the default run logs every 10)": framework_step(
            10, repeats * 10, "trainer.log_every=10"
        ),
        "tutorial eager loop (GradientTape + apply_gradients)": eager_step(eager_steps, repeats, compiled=False),
        "tutorial step in a tf.function, called once per step": eager_step(steps, repeats, compiled=True),
        "plain Python floats, hand-written gradient (floor)": float_step(steps, repeats),
    }
    framework = timings["framework: compiled loop (XLA, default)"]
    eager = timings["tutorial eager loop (GradientTape + apply_gradients)"]
    section = Section(
        "Scalar minimization: microseconds per step",
        f"f(x) = 2x^2 + x + 3, SGD at {LEARNING_RATE}, {steps} steps per call, median of {repeats}.",
        ["loop", "µs/step", "× framework's time"],
        [[name, f"{seconds * 1e6:.2f}", f"{seconds / framework:.3g}"] for name, seconds in timings.items()],
    )
    section.targets = [
        (
            "framework's compiled loop ≤ 2 µs/step",
            f"{framework * 1e6:.2f} µs",
            framework <= 2e-6,
            "the XLA while loop's per-iteration cost",
        ),
        (
            "≥ 1000× faster than the eager loop",
            f"{eager / framework:.0f}×",
            eager / framework >= 1000,
            "the XLA while loop's per-iteration cost",
        ),
    ]
    return section
