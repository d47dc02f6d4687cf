"""A step under `distribute=mirrored` over two logical CPU devices against the same step on one device,
at the same global batch: what splitting each batch and summing the gradients over replicas costs, and
whether the numbers stay the same. On a machine of two cores this is a cost, not a speed-up to expect.

`python -m bench.mirrored DATA STEPS REPEATS` runs in a process of its own, since a CPU splits into logical
devices only before TensorFlow starts, and prints its figures as JSON; `mirrored_section` runs it."""

import json
import subprocess
import sys

from bench.common import ROOT, Section


def train_figures(data_path: str, steps: int, repeats: int) -> dict:
    """Per distribute choice: the loss after `steps` steps from the same start, and the median seconds per
    step of `repeats` further calls of `steps` steps each, the two choices in turn."""
    import tensorflow as tf
    from trainer.plugins.distribute.mirrored import split_cpu

    from bench.common import median_seconds
    from bench.mnist import mnist_config
    from trainer.loop.build import build_training

    split_cpu(2)
    runs = {
        name: build_training(mnist_config(data_path, *overrides, "trainer.jit_compile=false"))  # as mirrored's
        for name, overrides in {
            "none": ["distribute=none"],
            "mirrored": ["distribute=mirrored", "distribute.logical_cpus=2"],
        }.items()
    }
    count = tf.constant(steps, tf.int64)
    figures = {name: {"loss": float(run.train_loop(count)[1])} for name, run in runs.items()}
    for _ in range(repeats):
        for name, run in runs.items():
            figures[name].setdefault("seconds", []).append(median_seconds(lambda: run.train_loop(count)[1].numpy(), 1))
    for figure in figures.values():
        figure["seconds"] = sorted(figure["seconds"])[len(figure["seconds"]) // 2] / steps
    return figures


def mirrored_section(data_path: str, data_name: str, repeats: int, steps: int = 200) -> Section:
    child = subprocess.run(
        [sys.executable, "-m", "bench.mirrored", data_path, str(steps), str(repeats)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    single, mirrored = figures["none"], figures["mirrored"]
    gap = abs(mirrored["loss"] - single["loss"]) / abs(single["loss"])
    section = Section(
        "Mirrored over two logical CPU devices vs one device",
        f"The MNIST MLP (Adam, global batch 128, {data_name}) trained {steps} steps from the same start under "
        f"`distribute=none` and `distribute=mirrored distribute.logical_cpus=2` in one process, both without XLA "
        f"(which a step over several replicas does without), then {repeats} "
        f"further calls of {steps} steps each, the two in turn; the median. The two logical devices share this "
        "machine's cores, so the mirrored step does the same arithmetic plus the split and the sum over "
        "replicas: the ratio is the cost of distribution here, not a speed-up to expect from two GPUs.",
        ["distribute", "ms per step", "× none", f"train loss after {steps} steps"],
        [
            [
                name,
                f"{1e3 * figure['seconds']:.2f}",
                f"{figure['seconds'] / single['seconds']:.2f}",
                f"{figure['loss']:.6f}",
            ]
            for name, figure in figures.items()
        ],
    )
    section.targets = [
        (
            "mirrored's loss within 1e-5 (relative) of one device's",
            f"{gap:.1e}",
            gap <= 1e-5,
            "float rounding of the gradient summed in two halves",
        )
    ]
    return section


if __name__ == "__main__":
    data, steps, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(train_figures(data, steps, repeats)))
