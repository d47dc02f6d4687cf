"""Comparisons timed as whole processes, every tuning, seed and default job and the report: the README's
example (6 optimizers, 4 problems, 20 learning rates and 5 seeds, 1000 steps; issue 20's target, under 2
minutes on 2 cores) and DeepOBS' protocol on the 2-D problems, `suite=toy2d`, over 10 optimizers (issue 21's,
under 5 minutes)."""

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
TOY2D = ["suite=toy2d", "optimizers=[sgd,adam,adamw,rmsprop,adagrad,nadam,lion,radam,adabelief,lbfgs]"]
COMPARISONS = [(EXAMPLE, 120), (TOY2D, 300)]  # (arguments, target seconds)
LIMIT = (  # what keeps a comparison from its target
    "each job is still a run of its own: Hydra's job set-up, a reused build, its event file, checkpoint and "
    "metrics.json, about 0.1 s beside its steps; training a pair's jobs as one stacked population is the next "
    "step"
)


def compare_section() -> Section:
    rows, targets = [], []
    for arguments, target in COMPARISONS:
        with tempfile.TemporaryDirectory() as folder:  # 2,800 jobs' directories: not left behind
            directory = Path(folder) / "comparison"
            seconds = seconds_until(None, "-m", "trainer.compare", *arguments, f"hydra.run.dir={directory}")
            jobs = len(list(directory.glob("*/*/metrics.json")))
        command = "python -m trainer.compare " + " ".join(arguments)
        rows.append([command, str(jobs), f"{seconds:.0f}"])
        targets.append((f"`{arguments[0]}...` under {target} s", f"{seconds:.0f} s", seconds < target, LIMIT))
    section = Section(
        "Comparisons",
        "Each command from starting the process to its exit, once: its tuning, seed and default jobs (the trainer "
        "launcher: in the comparison's process, a multirun per problem, phase and set of values, the optimizers "
        "that share their values swept together) and the report.",
        ["command", "jobs", "seconds"],
        rows,
    )
    section.targets = targets
    return section
