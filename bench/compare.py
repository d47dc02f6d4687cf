"""The README's example comparison (`python -m trainer.compare ...`), timed as a whole process: every
tuning and seed job, and the report. Its target is the issue's: under 10 minutes on 2 cores."""

import tempfile
from pathlib import Path

from bench.common import Section, seconds_until

EXAMPLE = ["optimizers=[sgd,adam,radam,lbfgs]", "problems=[rosenbrock,beale,noisy_quadratic]", "budget=6", "seeds=3"]


def compare_section() -> Section:
    directory = Path(tempfile.mkdtemp()) / "comparison"
    seconds = seconds_until(None, "-m", "trainer.compare", *EXAMPLE, f"hydra.run.dir={directory}")
    jobs = len(list(directory.glob("*/*/metrics.json")))
    command = "python -m trainer.compare " + " ".join(EXAMPLE)
    section = Section(
        "The README's example comparison",
        f"`{command}`, from starting the process to its exit, once: its tuning and seed jobs (200 steps each, "
        "Hydra's basic launcher, one process per phase) and the report.",
        ["command", "jobs", "seconds"],
        [[command, str(jobs), f"{seconds:.0f}"]],
    )
    section.targets = [
        ("under 600 s", f"{seconds:.0f} s", seconds < 600, "each job's start and its 200 compiled steps")
    ]
    return section
