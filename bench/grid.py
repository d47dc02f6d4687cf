"""Issue 20's first target: a scalar run that is one member of a 36-rate x 10-seed grid of 1000-step runs, as
`python -m trainer -m` runs the grid, in one process and in worker processes. A run's amortized seconds are
what each job after the first adds to the sweep's wall time (the grid's sweep less a 1-job one), so the
process's start and TensorFlow's import are left out and the sweep's own overhead (its check of the batch,
each job's set-up and records, the summary) is in. The reference is the same runs by `train(cfg)` in one
Python loop, measured in the same run."""

import statistics

import numpy as np

from bench.common import Section
from bench.fixed_costs import QUIET, seconds_per_loop_run, sweep_seconds

STEPS = 1000
WORKERS = "hydra.launcher.processes=null"  # one worker process per core


def grid_rates(count: int) -> list[str]:
    """`count` learning rates spaced evenly in log scale from 0.001 to 0.3, within SGD's stable range on the
    default quadratic (curvature 4: below 0.5)."""
    return [f"{rate:.3g}" for rate in np.geomspace(0.001, 0.3, count)]


def grid_seconds(rates: list[str], seeds: int, *extra: str) -> float:
    """Wall seconds of the grid's sweep, from the process's start to its exit, in a fresh sweep directory."""
    grid = [f"optimizer.learning_rate={','.join(rates)}", f"trainer.seed=range({seeds})"]
    return sweep_seconds(*grid, f"trainer.steps={STEPS}", *QUIET, "logging.progress=false", *extra)


def grid_section(repeats: int, rates: int = 36, seeds: int = 10) -> Section:
    grid, jobs = grid_rates(rates), rates * seeds
    loop, alone, whole, single = [], [], [], []
    for _ in range(repeats):  # in turn, so that the machine's drift touches all alike
        loop.append(seconds_per_loop_run([[f"optimizer.learning_rate={rate}", "trainer.seed=1",
                                           f"trainer.steps={STEPS}"] for rate in grid]))  # fmt: skip
        single.append(grid_seconds(grid[:1], 1))  # in the process itself, whatever its processes setting
        alone.append(grid_seconds(grid, seeds))
        whole.append(grid_seconds(grid, seeds, WORKERS))
    loop, single, alone, whole = map(statistics.median, (loop, single, alone, whole))
    per_run = {"one process": (alone - single) / (jobs - 1), "workers": (whole - single) / (jobs - 1)}
    section = Section(
        f"A grid of runs: {rates} rates x {seeds} seeds, {STEPS} steps each",
        f"`python -m trainer -m optimizer.learning_rate=<{rates} rates from 0.001 to 0.3> trainer.seed=range({seeds}) "
        f"trainer.steps={STEPS}`, pictures and graph off: {jobs} SGD runs on the default quadratic; median of "
        f"{repeats}. A run's amortized seconds are what each job after the first adds to the sweep's wall time "
        "(the grid's sweep less a 1-job one, over the jobs after the first): the sweep's check of the batch, each "
        "job's set-up, records, checkpoint and metrics.json, the summary and the workers' start are in; the "
        "process's start and TensorFlow's import are not (a 1-job sweep runs in the process itself). The "
        "reference is a run of each rate by `train(cfg)` in one Python loop.",
        ["runs", "whole command (s)", "amortized seconds per run", "× the reference"],
        [
            ["one Python loop calling train(cfg) (reference)", "", f"{loop:.4f}", "1"],
            [
                "`python -m trainer -m ...`, one process (the default)",
                f"{alone:.1f}",
                f"{per_run['one process']:.4f}",
                f"{per_run['one process'] / loop:.2f}",
            ],
            [
                f"`python -m trainer -m ... {WORKERS}`: a worker per core",
                f"{whole:.1f}",
                f"{per_run['workers']:.4f}",
                f"{per_run['workers'] / loop:.2f}",
            ],
        ],
    )
    best = min(per_run.values())
    section.targets = [
        (
            "a run of the grid ≤ 10 ms amortized",
            f"{1000 * best:.1f} ms",
            best <= 0.010,
            f"a run in a Python loop alone takes {1000 * loop:.1f} ms on a core (building it from its config, its "
            "checkpoint, records and metrics.json around 3 ms of compiled steps), and each job adds Hydra's set-up "
            "and records of it",
        )
    ]
    return section
