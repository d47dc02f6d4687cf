"""The README's example comparison (`python -m trainer.compare ...`: 6 optimizers, 4 problems, 20 learning
rates and 5 seeds, 1000 steps), timed as a whole process: every tuning and seed job, and the report. Its target
is issue 20's: under 2 minutes on 2 cores."""

import tempfile
from pathlib import Path

from bench.common import Section, seconds_until

EXAMPLE = [
    "optimizers=[sgd,adam,rmsprop,lion,radam,lbfgs]",
    "problems=[rosenbrock,beale,noisy_quadratic,himmelblau]",
    "budget=20",
    "seeds=5",
    "steps=1000",
]


def compare_section() -> Section:
    directory = Path(tempfile.mkdtemp()) / "comparison"
    seconds = seconds_until(None, "-m", "trainer.compare", *EXAMPLE, f"hydra.run.dir={directory}")
    jobs = len(list(directory.glob("*/*/metrics.json")))
    command = "python -m trainer.compare " + " ".join(EXAMPLE)
    section = Section(
        "The README's example comparison",
        f"`{command}`, from starting the process to its exit, once: its tuning and seed jobs (the trainer "
        "launcher, a multirun per problem, optimizer and phase, in the comparison's process) and the report.",
        ["command", "jobs", "seconds"],
        [[command, str(jobs), f"{seconds:.0f}"]],
    )
    section.targets = [
        (
            "under 120 s",
            f"{seconds:.0f} s",
            seconds < 120,
            "each job is still a run of its own: Hydra's job set-up, a reused build, its event file, checkpoint "
            "and metrics.json, about 0.1 s beside its steps; training a pair's jobs as one stacked population "
            "is issue 20's next step",
        )
    ]
    return section
