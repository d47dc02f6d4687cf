"""`python -m trainer` (and the `trainer` script): compose the config with Hydra, train, print a summary.

Every error a user can act on ends the command with one line on stderr and a non-zero exit
(trainer/cli.py); in a sweep, a job's failure is recorded and the other jobs still run.
"""

import logging
import math
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf, open_dict

import trainer.config.settings  # noqa: F401 (registers the schemas conf/ names)
from trainer import workers
from trainer.cli import FULL_ERROR, exit_with, run_command
from trainer.errors import DirectoryInUse, Interrupted, find_trainer_error
from trainer.outputs.metrics import read_metrics, summarize, write_metrics
from trainer.startup import start_tensorflow

log = logging.getLogger(__name__)
SINGLE_DEVICE = "tensorflow.distribute.get_strategy"  # conf/distribute/none.yaml
NO_DATA = "trainer.data.Splits"  # conf/data/none.yaml


def in_sweep() -> bool:
    return HydraConfig.get().mode == RunMode.MULTIRUN


def task(cfg) -> float:
    """One job: train as `cfg` says; print its summary, and give the sweeper its metric."""
    try:
        start_tensorflow(cfg)
        from trainer.train import train

        outcome = train(cfg)
    except Exception as error:
        outcome = error
    return job_value(cfg, outcome)


def together(cfgs: list) -> list[float]:
    """Jobs of one structure (`task.population_key`) trained together, each as `task` would train it alone
    (trainer/loop/population.py); the trainer launcher (hydra_plugins.trainer) groups them."""
    try:
        start_tensorflow(cfgs[0])
        from trainer.train import train_population

        outcomes = train_population(cfgs)
    except Exception as error:  # an interruption, or the set-up they share: every job of the group stops
        outcomes = [error] * len(cfgs)
    return [job_value(cfg, outcome) for cfg, outcome in zip(cfgs, outcomes)]


def population_key(sweep_config) -> str | None:
    """What jobs trained together must share: their structure (trainer/loop/reuse.py), from a sweep job's
    config before it runs; None for a job that runs alone: over devices or machines, or without data (a scalar
    problem's steps take microseconds, and a program of many copies of them compiles longer than they run:
    its runs take turns on one program instead, trainer/loop/reuse.py)."""
    from trainer.loop.reuse import resolved_config, structure

    if sweep_config.distribute._target_ != SINGLE_DEVICE or sweep_config.data._target_ == NO_DATA:
        return None
    job = OmegaConf.masked_copy(sweep_config, [key for key in sweep_config if key != "hydra"])
    with open_dict(job):
        job.output_dir = ""  # Hydra sets it as the job starts; settings that name it are values of each run
    try:
        start_tensorflow(sweep_config)  # the key imports the model's class, and so TensorFlow
        return structure(resolved_config(job))
    except Exception:  # a config that cannot be read runs alone, where it fails with its own line
        return None


task.together, task.population_key = together, population_key
app = hydra.main(version_base="1.3", config_path="pkg://trainer.conf", config_name="config")(task)


def job_value(cfg, outcome) -> float:
    """A job's metrics (or the error it ended with) as the command reports them: its summary printed, its
    metric for the sweeper. Every error a user can act on ends the command in one line, but in a sweep one
    job's failure leaves the others to run; an interrupted sweep, or a job whose directory another process
    owns, stops the sweep (it writes nothing into that directory)."""
    if isinstance(outcome, Exception):
        problem = find_trainer_error(outcome)
        if os.environ.get(FULL_ERROR) == "1" or (problem is None and not in_sweep()):
            raise outcome
        if in_sweep() and not isinstance(problem, (Interrupted, DirectoryInUse)):
            return failed_job(cfg.output_dir, outcome, problem)
        if workers.IN_WORKER and isinstance(problem, Interrupted):  # the command's process says it, once
            log.info("%s", problem)
            sys.exit(problem.exit_code)
        exit_with("trainer", problem)
    print(summarize(outcome))
    return outcome.get(cfg.sweep.metric, math.nan)  # what a sweeper optimizes


def main() -> None:
    run_command("trainer", app)


def failed_job(output_dir: str, error: Exception, problem) -> float:
    """Report a sweep job's failure in one line (a traceback too where it is a bug rather than a
    `TrainerError`), record it in the job's metrics.json for the sweep's summary, and give the sweeper NaN."""
    if problem is None:
        log.error("job %s failed", output_dir, exc_info=error)
    cause = error
    while cause.__cause__ is not None:  # what instantiate's wrapping hides: the plugin's own error
        cause = cause.__cause__
    message = " ".join(str(problem or f"{type(cause).__name__}: {cause}").splitlines())
    print(f"trainer: job {output_dir}: {message}", file=sys.stderr)
    recorded = read_metrics(output_dir)
    if recorded is None or "error" in recorded and "steps" not in recorded:  # keep a finished run's results, and
        # a diverged run's own error, with its step
        write_metrics(output_dir, {"loss": None, "error": message})
    return math.nan


if __name__ == "__main__":
    main()
