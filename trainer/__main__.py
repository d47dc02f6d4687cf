"""`python -m trainer` (and the `trainer` script): compose the config with Hydra, train, print a summary."""
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from trainer.cli import import_tensorflow_quietly
from trainer.errors import Interrupted, find_trainer_error


def in_sweep() -> bool:
    return HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg) -> float:
    import_tensorflow_quietly()
    from trainer.train import summarize, train

    try:
        metrics = train(cfg)
    except Exception as error:
        problem = find_trainer_error(error)
        if problem is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        if in_sweep() and not isinstance(problem, Interrupted):  # one job's failure leaves the others to run
            print(f"trainer: job {cfg.output_dir}: {problem}", file=sys.stderr)
            return float("nan")
        print(f"trainer: {problem}", file=sys.stderr)  # one line, no traceback
        sys.exit(problem.exit_code)
    print(summarize(metrics))
    return metrics["loss"]  # what a Hydra sweeper minimizes


if __name__ == "__main__":
    main()
