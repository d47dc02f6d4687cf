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

import trainer.config.settings  # noqa: F401 (registers the schemas conf/ names)
from trainer.cli import FULL_ERROR, exit_with, run_command
from trainer.errors import DirectoryInUse, Interrupted, find_trainer_error
from trainer.outputs.metrics import read_metrics, summarize, write_metrics
from trainer.startup import import_tensorflow_quietly, use_compilation_cache

log = logging.getLogger(__name__)


def in_sweep() -> bool:
    return HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(version_base="1.3", config_path="pkg://trainer.conf", config_name="config")
def app(cfg) -> float:
    try:
        use_compilation_cache(cfg.trainer.compilation_cache)
        import_tensorflow_quietly()
        from trainer.train import train

        metrics = train(cfg)
    except Exception as error:
        problem = find_trainer_error(error)
        if os.environ.get(FULL_ERROR) == "1":
            raise
        # One job's failure leaves the others to run; an interrupted sweep, or a job whose directory another
        # process owns, stops the sweep (it writes nothing into that directory).
        if in_sweep() and not isinstance(problem, (Interrupted, DirectoryInUse)):
            return failed_job(cfg.output_dir, error, problem)
        if problem is None:
            raise
        exit_with("trainer", problem)
    print(summarize(metrics))
    return metrics.get(cfg.sweep.metric, math.nan)  # what a sweeper optimizes


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
