"""Comparisons timed as whole processes, every tuning, seed and default job and the report: the README's
example (6 optimizers, 4 problems, 20 learning rates and 5 seeds, 1000 steps; issue 20's target, under 2
minutes on 2 cores), DeepOBS' protocol on the 2-D problems, `suite=toy2d`, over 10 optimizers (issue 21's,
under 5 minutes), and the same without the optimizers' own rates: issue 20's 10 optimizers x 5 problems x (36
rates + 10 seeds), under 2 minutes. Each runs its jobs in worker processes, one per core (the default); the
README's example runs again in the comparison's process alone (`processes=1`), the gain of the workers. Beside
each, its reference in the same run: a job like its own, run by `train(cfg)` in a Python loop, so that a
slower machine does not read as a slower comparison."""

import statistics
import tempfile
from pathlib import Path

from bench.common import Section, seconds_until
from bench.fixed_costs import seconds_per_loop_run

EXAMPLE = [
    "optimizers=[sgd,adam,rmsprop,lion,radam,lbfgs]",
    "problems=[rosenbrock,beale,noisy_quadratic,himmelblau]",
    "budget=20",
    "seeds=5",
    "steps=1000",
]
TOY2D = ["suite=toy2d", "optimizers=[sgd,adam,adamw,rmsprop,adagrad,nadam,lion,radam,adabelief,lbfgs]"]
# (what the target names, arguments, target seconds or None, a job's trainer overrides as the comparison gives
# them: conf/compare.yaml's log_every 5, conf/suite/toy2d.yaml's 10 and no checkpoints)
TOY2D_JOBS = ["trainer.log_every=10", "~actions.checkpoints"]
COMPARISONS = [
    ("the README's example", EXAMPLE, 120, ["trainer.log_every=5"]),
    ("the README's example in one process", [*EXAMPLE, "processes=1"], None, ["trainer.log_every=5"]),
    ("`suite=toy2d`", TOY2D, 300, TOY2D_JOBS),
    ("`suite=toy2d at_defaults=false`", [*TOY2D, "at_defaults=false"], 120, TOY2D_JOBS),
]
LIMIT = (  # what keeps a comparison from its target, as profiled (py-spy, this protocol's 2,300 jobs in one process)
    "each job is still a run of its own, in one of the workers: its composed config (about 7 ms on a core), its "
    "Hydra job (8 ms: two copies of the config, three YAML records, logging), its checks and records (5 ms), a "
    "reused build (15 ms, 9 of them Hydra's instantiate of its parts and 14 actions), its actions (7 ms: train "
    "scalars, HParams, metrics.json), beside 3 ms of compiled calls; and the first job of each (problem, optimizer) "
    "traces and compiles its program (0.17 s, 50 of them)"
)


def loop_seconds(trainer: list[str]) -> float:
    """Seconds per `train(cfg)` of a comparison's 1000-step Adam job on Rosenbrock, at 6 learning rates in one
    Python loop (sharing one program, as a comparison's jobs of a pair do)."""
    rates = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
    common = ["model=rosenbrock", "optimizer=adam", "trainer.steps=1000", "logging.progress=false"]
    return seconds_per_loop_run([[*common, "logging.export=false", *trainer, f"optimizer.learning_rate={rate}"]
                                 for rate in rates])  # fmt: skip


def compare_section() -> Section:
    rows, targets = [], []
    for name, arguments, target, trainer in COMPARISONS:
        reference = statistics.median(loop_seconds(trainer) for _ in range(3))  # a first loop read 3x slower
        with tempfile.TemporaryDirectory() as folder:  # 2,800 jobs' directories: not left behind
            directory = Path(folder) / "comparison"
            seconds = seconds_until(None, "-m", "trainer.compare", *arguments, f"hydra.run.dir={directory}")
            jobs = len(list(directory.glob("*/*/metrics.json")))
        command = "python -m trainer.compare " + " ".join(arguments)
        per_job = seconds / jobs
        rows.append([command, str(jobs), f"{seconds:.0f}", f"{per_job:.3f}", f"{reference:.3f}",
                     f"{per_job / reference:.2f}"])  # fmt: skip
        if target is not None:
            targets.append((f"{name} under {target} s", f"{seconds:.0f} s", seconds < target, LIMIT))
    section = Section(
        "Comparisons",
        "Each command from starting the process to its exit, once: its tuning, seed and default jobs (the trainer "
        "launcher: in worker processes, one per core, each (problem, optimizer)'s jobs in one of them, a multirun "
        "per problem, phase and worker, its jobs listed; with `processes=1`, in the comparison's own process) and "
        "the report. The reference, measured just before: a job like the comparison's (Adam on Rosenbrock, 1000 "
        "steps, logged as the comparison logs) by `train(cfg)` in one Python loop, pictures and graph off, its "
        "program shared by the loop's runs, the median of 3 loops: one process, where the workers use every core.",
        ["command", "jobs", "seconds", "seconds per job", "reference: a run in a loop", "× the reference"],
        rows,
    )
    section.targets = targets
    return section
