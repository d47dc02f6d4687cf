"""What the diagnostics cost: one measurement of each (actions.curvature, actions.gradient_noise and
actions.updates at their default settings) on the MNIST MLP, against the compiled train step it interrupts, in
one process. A measurement's seconds are what a step it runs at costs more."""

import tensorflow as tf

from bench.common import Section, median_seconds
from bench.mnist import mnist_config
from trainer.actions.curvature import Curvature
from trainer.actions.gradient_noise import GradientNoise
from trainer.actions.updates import Updates
from trainer.loop.build import build_training
from trainer.loop.run import Loop

STEPS = 200  # train steps timed per repeat, the reference


def diagnostics_section(data_path: str, data_name: str, repeats: int) -> Section:
    every = ("actions.curvature.every=3", "actions.gradient_noise.every=3", "actions.updates.every=3")
    run = build_training(mnist_config(data_path, *every))
    loop = Loop.of(run)
    curvature, noise, updates = (next(a for a in run.actions if isinstance(a, kind)) for kind in KINDS)
    for action in (curvature, noise, updates):
        action.begin(run, loop)
    count = tf.constant(STEPS, tf.int64)
    run.train_loop(count)  # traced and compiled before timing, as each measurement is by its first call
    one = tf.constant(1, tf.int64)
    seconds = {
        "step": median_seconds(lambda: run.train_loop(count)[1].numpy(), repeats) / STEPS,
        "call": median_seconds(lambda: run.train_loop(one)[1].numpy(), repeats),
        "curvature": timed(lambda: curvature.act(run, loop), repeats),
        "noise": timed(lambda: noise.act(run, loop), repeats),
        "updates": timed(lambda: update_window(updates, run, loop), repeats),
    }
    seconds["updates"] += 2 * seconds["call"]  # its window splits the calls at the two steps before
    products = curvature.iterations + curvature.probes
    return section(seconds, data_name, repeats, products, noise.samples)


KINDS = (Curvature, GradientNoise, Updates)


def timed(work, repeats: int) -> float:
    work()  # traced before timing
    return median_seconds(work, repeats)


def update_window(updates: Updates, run, loop) -> None:
    """What actions.updates does around each logged step: the weights read at the two steps before it (and
    the gradient at the second), then at it, logged."""
    for done in (1, 2, 3):
        loop.done = done
        updates.act(run, loop)


def section(seconds: dict, data_name: str, repeats: int, products: int, samples: int) -> Section:
    step = seconds["step"]
    rows = [
        ("one train step, in a compiled call of 200 (reference)", "step"),
        ("a compiled call of one step", "call"),
        (f"actions.curvature: {products} Hessian-vector products", "curvature"),
        (f"actions.gradient_noise: {samples} micro-batch gradients", "noise"),
        ("actions.updates: three reads of the weights, a gradient, two more calls", "updates"),
    ]
    result = Section(
        "Diagnostics: what one measurement of each costs",
        f"The MNIST MLP on {data_name}, batch 128; median of {repeats}. Each measurement at its defaults, on the "
        "probe batch; its seconds are added to each step it runs at.",
        ["work", "seconds", "train steps' worth"],
        [[label, f"{seconds[key]:.5f}", f"{seconds[key] / step:.0f}"] for label, key in rows],
    )
    result.targets = [
        (
            "a curvature measurement ≤ 10 steps' worth per Hessian-vector product",
            f"{seconds['curvature'] / step / products:.1f}",
            seconds["curvature"] / step <= 10 * products,
            "each product is a separate call, with eager operations around it",
        )
    ]
    return result
