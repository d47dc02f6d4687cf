"""Whole commands in child processes: start-up time and peak memory (RSS), against importing TensorFlow."""

import functools
import tempfile

from bench.common import Section, median_seconds_until, peak_rss_mb

IMPORT_TENSORFLOW = ("-c", "import tensorflow; print('imported', flush=True)")


@functools.cache  # the reference of several sections, measured once per bench run
def import_seconds(repeats: int) -> float:
    """Median wall seconds of `python -c "import tensorflow"` until its import is done."""
    return median_seconds_until(repeats, "imported", *IMPORT_TENSORFLOW)


def fresh_run_dir() -> str:
    """A run directory new to every run of a repeated command: the same one would resume a finished run."""
    return f"{tempfile.mkdtemp()}/${{now:%H-%M-%S-%f}}"


def startup_section(repeats: int) -> Section:
    reference = import_seconds(repeats)
    seconds = {
        "python -m trainer --help": median_seconds_until(repeats, None, "-m", "trainer", "--help"),
        "python -m trainer --cfg job": median_seconds_until(repeats, None, "-m", "trainer", "--cfg", "job"),
        "python -m trainer trainer.steps=1, until its first step is done": median_seconds_until(
            repeats, "step 1/1 ", "-m", "trainer", "trainer.steps=1", f"hydra.run.dir={fresh_run_dir()}"
        ),
    }
    first_step = seconds["python -m trainer trainer.steps=1, until its first step is done"]
    section = Section(
        "Start-up: wall seconds",
        f"Median of {repeats} runs each, from starting the process: to its exit for --help and --cfg, to the "
        "line printed after the import for the reference, to the progress line of step 1 for the run "
        "(composing the config, importing TensorFlow and Keras, building, tracing and XLA-compiling the "
        "loop, the first compiled call).",
        ["command", "seconds", "× import tensorflow"],
        [['python -c "import tensorflow" (reference)', f"{reference:.2f}", "1.00"]]
        + [[command, f"{value:.2f}", f"{value / reference:.2f}"] for command, value in seconds.items()],
    )
    section.targets = [
        (f"{command} < 1.5 s", f"{seconds[command]:.2f} s", seconds[command] < 1.5, "Hydra's own start")
        for command in ("python -m trainer --help", "python -m trainer --cfg job")
    ]
    section.targets.append(
        (
            "the framework adds < 1 s to importing TensorFlow before the first step",
            f"{first_step - reference:.2f} s",
            first_step - reference < 1.0,
            "Hydra's start (~0.25 s), importing Keras, Hydra and OmegaConf beside TensorFlow (~0.3 s), and tracing "
            "and XLA-compiling the loop (~0.35 s)",
        )
    )
    return section


def memory_section(data_path: str, data_name: str) -> Section:
    reference = peak_rss_mb(*IMPORT_TENSORFLOW)
    mnist = peak_rss_mb(
        "-m",
        "trainer",
        "experiment=mnist",
        f"data.path={data_path}",
        "trainer.epochs=1",
        f"hydra.run.dir={fresh_run_dir()}",
    )
    section = Section(
        "Memory: peak resident set size",
        f"One run each, as the process itself reports it (VmHWM); the MNIST run trains one epoch on {data_name} "
        "and evaluates the test set.",
        ["command", "peak RSS (MB)", "× import tensorflow"],
        [
            ['python -c "import tensorflow" (reference)', f"{reference:.0f}", "1.00"],
            ["python -m trainer experiment=mnist trainer.epochs=1", f"{mnist:.0f}", f"{mnist / reference:.2f}"],
        ],
    )
    section.targets = [
        (
            "MNIST run peak RSS < 2.5 GB",
            f"{mnist / 1024:.2f} GB",
            mnist < 2560,
            "TensorFlow's own footprint (the reference) and the data set, held in memory",
        )
    ]
    return section
