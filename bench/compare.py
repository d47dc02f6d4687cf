"""Comparisons timed as whole processes, every tuning, seed and default job and the report: the README's
example (6 optimizers, 4 problems, 20 learning rates and 5 seeds, 1000 steps; issue 20's target, under 2
minutes on 2 cores) and DeepOBS' protocol on the 2-D problems, `suite=toy2d`, over 10 optimizers (issue 21's,
under 5 minutes). Beside each, its reference in the same run: a job like its own, run by `train(cfg)` in a
Python loop, so that a slower machine does not read as a slower comparison."""

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
# (arguments, target seconds, a job's trainer overrides as the comparison gives them: conf/compare.yaml's log_every
# 5, conf/suite/toy2d.yaml's 10 and no checkpoints)
COMPARISONS = [
    (EXAMPLE, 120, ["trainer.log_every=5"]),
    (TOY2D, 300, ["trainer.log_every=10", "~actions.checkpoints"]),
]
LIMIT = (  # what keeps a comparison from its target, as profiled
    "each job is still a run of its own: its job set-up (about 14 ms on 2 cores: a copy of the config, three "
    "YAML files), a reused build (18 ms: its parts and actions built by instantiate), its actions' event file, "
    "HParams and metrics.json (15 ms), its composed config (4 ms), beside 4 ms of steps; stacking a pair's steps "
    "would not help while these per-job costs stay"
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
    for arguments, target, trainer in COMPARISONS:
        reference = loop_seconds(trainer)
        with tempfile.TemporaryDirectory() as folder:  # 2,800 jobs' directories: not left behind
            directory = Path(folder) / "comparison"
            seconds = seconds_until(None, "-m", "trainer.compare", *arguments, f"hydra.run.dir={directory}")
            jobs = len(list(directory.glob("*/*/metrics.json")))
        command = "python -m trainer.compare " + " ".join(arguments)
        per_job = seconds / jobs
        rows.append([command, str(jobs), f"{seconds:.0f}", f"{per_job:.3f}", f"{reference:.3f}",
                     f"{per_job / reference:.2f}"])  # fmt: skip
        targets.append((f"`{arguments[0]}...` under {target} s", f"{seconds:.0f} s", seconds < target, LIMIT))
    section = Section(
        "Comparisons",
        "Each command from starting the process to its exit, once: its tuning, seed and default jobs (the trainer "
        "launcher: in the comparison's process, a multirun per problem and phase, its jobs listed) and the report. "
        "The reference, measured just before: a job like the comparison's (Adam on Rosenbrock, 1000 steps, logged "
        "as the comparison logs) by `train(cfg)` in one Python loop, pictures and graph off, its program shared by "
        "the loop's runs.",
        ["command", "jobs", "seconds", "seconds per job", "reference: a run in a loop", "× the reference"],
        rows,
    )
    section.targets = targets
    return section
