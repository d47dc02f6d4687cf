"""What the curvature diagnostics cost: one measurement (actions.curvature with its default power iterations
and probes) on the MNIST MLP, against the compiled train step it interrupts, in one process."""

import tensorflow as tf

from bench.common import Section, median_seconds
from bench.mnist import mnist_config
from trainer.actions.curvature import Curvature
from trainer.loop.build import build_training
from trainer.loop.run import Loop

STEPS = 200  # train steps timed per repeat, the reference


def diagnostics_section(data_path: str, data_name: str, repeats: int) -> Section:
    run = build_training(mnist_config(data_path, "actions.curvature.every=1"))
    loop = Loop.of(run)
    curvature = next(action for action in run.actions if isinstance(action, Curvature))
    curvature.begin(run, loop)
    count = tf.constant(STEPS, tf.int64)
    run.train_loop(count)  # traced and compiled before timing, as the measurement is by its first call
    curvature.act(run, loop)
    step = median_seconds(lambda: run.train_loop(count)[1].numpy(), repeats) / STEPS
    measurement = median_seconds(lambda: curvature.act(run, loop), repeats)
    products = curvature.iterations + curvature.probes
    section = Section(
        "Diagnostics: what one curvature measurement costs",
        f"The MNIST MLP on {data_name}, batch 128; median of {repeats}. One measurement is {curvature.iterations} "
        f"power iterations and {curvature.probes} Hutchinson probes: {products} Hessian-vector products on the "
        "probe batch, each two passes of differentiation, with the eager arithmetic between them.",
        ["work", "seconds", "train steps' worth"],
        [
            [f"one train step, in a compiled call of {STEPS} (reference)", f"{step:.5f}", "1"],
            ["one curvature measurement (actions.curvature)", f"{measurement:.3f}", f"{measurement / step:.0f}"],
        ],
    )
    section.targets = [
        (
            "a measurement ≤ 10 steps' worth per Hessian-vector product",
            f"{measurement / step / products:.1f}",
            measurement / step <= 10 * products,
            "each product is a separate call, with eager operations around it",
        )
    ]
    return section
