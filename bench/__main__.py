"""`python -m bench`: run every benchmark in one process and write the tables to docs/benchmarks.md.

python -m bench                                   # real MNIST from ../shared/data/mnist/mnist.npz if there
python -m bench --data PATH/mnist.npz --out docs/benchmarks.md
python -m bench --quick --out /tmp/bench.md       # a smoke test: one repeat, 4 Optuna trials, no time-to-accuracy
                                                  # run, comparison, uncached MNIST run or population sweeps
"""

import argparse
import datetime
import os
import platform
import tempfile
from pathlib import Path

from bench.common import ROOT, Section

REAL_MNIST = ROOT.parent / "shared" / "data" / "mnist" / "mnist.npz"


def parse_args():
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=REAL_MNIST if REAL_MNIST.exists() else None,
        help="Keras-format mnist.npz; without it, generated data of the same shape",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="markdown file to write")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one repeat each, 4 Optuna trials; no time-to-accuracy run, comparison, uncached run or population sweep",
    )
    return parser.parse_args()


def machine() -> str:
    import keras
    import tensorflow as tf

    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    devices = ", ".join(d.name for d in tf.config.list_physical_devices()) or "none"
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; {platform.system()} {platform.machine()}; "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}; "
        f"devices: {devices}"
    )


def as_markdown(section: Section) -> str:
    lines = [
        f"## {section.title}",
        "",
        section.note,
        "",
        "| " + " | ".join(section.header) + " |",
        "|" + "---|" * len(section.header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in section.rows]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [
        f"| {target} | {measured} | {'yes' if met else f'**no**: {limit}'} |"
        for target, measured, met, limit in section.targets
    ]
    return "\n".join(lines) + "\n"


def main():
    args = parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from trainer.plugins.data.mnist import write_synthetic_mnist

    from bench.compare import compare_section
    from bench.diagnostics import diagnostics_section
    from bench.fixed_costs import mnist_process_section, sweep_section
    from bench.grid import grid_section
    from bench.mirrored import mirrored_section
    from bench.mnist import throughput_section, time_to_accuracy_section
    from bench.populations import SEEDS, population_section
    from bench.process import memory_section, startup_section
    from bench.scalar import scalar_section

    repeats = 1 if args.quick else 3
    if args.data is None:
        data_path, data_name = (
            write_synthetic_mnist(Path(tempfile.mkdtemp()) / "mnist.npz", 60000, 10000),
            "generated data of MNIST's shape",
        )
    else:
        data_path = args.data
        data_name = "the real MNIST" if data_path.resolve() == REAL_MNIST.resolve() else f"`{data_path}`"
    more = 1 if args.quick else repeats + 2  # for the shortest figures, where noise weighs most
    sections = [scalar_section(repeats), throughput_section(str(data_path), data_name, more)]
    if args.data is not None and not args.quick:
        sections.append(time_to_accuracy_section(str(data_path), data_name, max_epochs=10, repeats=repeats))
    sections += [
        startup_section(more),
        mnist_process_section(str(data_path), data_name, repeats, uncached=not args.quick),
        sweep_section(repeats, optuna_trials=4 if args.quick else 20),
        grid_section(repeats, rates=6 if args.quick else 36, seeds=2 if args.quick else 10),
        population_section(str(data_path), data_name, repeats, seeds=2 if args.quick else SEEDS, sweeps=not args.quick),
        memory_section(str(data_path), data_name),
        mirrored_section(str(data_path), data_name, repeats, steps=50 if args.quick else 200),
        diagnostics_section(str(data_path), data_name, repeats),
    ]
    if not args.quick:
        sections.append(compare_section())

    header = (
        f"# Benchmarks\n\nWritten by `python -m bench` on {datetime.date.today()}. Every figure is measured in "
        f"one run, beside its reference.\n\nMachine: {machine()}.\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join([header, *map(as_markdown, sections)]))
    missed = [target for section in sections for target, _, met, _ in section.targets if not met]
    print(
        f"wrote {args.out}: {sum(len(s.targets) for s in sections) - len(missed)} targets met"
        + (f", missed: {'; '.join(missed)}" if missed else "")
    )


if __name__ == "__main__":
    main()
