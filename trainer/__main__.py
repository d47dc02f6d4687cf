"""`python -m trainer` (and the `trainer` script): compose the config with Hydra, train, print a summary.

Every error a user can act on ends the command with one line on stderr and a non-zero exit: Hydra's own
(an unknown choice, a missing key, a value of the wrong type) as well as the trainer's. HYDRA_FULL_ERROR=1
shows the whole traceback instead.
"""

import logging
import math
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

import trainer.config.settings  # noqa: F401 (registers the schemas conf/ names)
from trainer.cli import config_choices, hydra_error_line
from trainer.errors import Interrupted, find_trainer_error
from trainer.outputs.metrics import read_metrics, summarize, write_metrics
from trainer.startup import import_tensorflow_quietly

log = logging.getLogger(__name__)
OmegaConf.register_new_resolver("trainer_choices", config_choices, replace=True)  # for conf/hydra/help/
FULL_ERROR = "TRAINER_FULL_ERROR"  # the user's HYDRA_FULL_ERROR, which this command sets for itself


def in_sweep() -> bool:
    return HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(version_base="1.3", config_path="pkg://trainer.conf", config_name="config")
def run(cfg) -> float:
    import_tensorflow_quietly()
    from trainer.train import train

    try:
        metrics = train(cfg)
    except Exception as error:
        problem = find_trainer_error(error)
        if os.environ.get(FULL_ERROR) == "1":
            raise
        if in_sweep() and not isinstance(problem, Interrupted):  # one job's failure leaves the others to run
            return failed_job(cfg.output_dir, error, problem)
        if problem is None:
            raise
        print(f"trainer: {problem}", file=sys.stderr)  # one line, no traceback
        sys.exit(problem.exit_code)
    print(summarize(metrics))
    return metrics.get(cfg.sweep.metric, math.nan)  # what a sweeper optimizes


def main() -> None:
    """Run the Hydra app with its composition errors raised to here (HYDRA_FULL_ERROR=1, remembered as
    the user's own choice in TRAINER_FULL_ERROR), and print each as one line."""
    os.environ.setdefault(FULL_ERROR, os.environ.get("HYDRA_FULL_ERROR", "0"))
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        run()
    except Exception as error:
        line = hydra_error_line(error)
        if os.environ[FULL_ERROR] == "1" or line is None:
            raise
        print(f"trainer: {line}", file=sys.stderr)
        sys.exit(1)


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
    if "error" not in (read_metrics(output_dir) or {}):  # a diverged run recorded its own, with its step
        write_metrics(output_dir, {"loss": None, "error": message})
    return math.nan


if __name__ == "__main__":
    main()
