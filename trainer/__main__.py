"""`python -m trainer` (and the `trainer` script): compose the config with Hydra, train, print a summary."""
import contextlib
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from trainer.errors import Interrupted, find_trainer_error


def in_sweep() -> bool:
    return HydraConfig.get().mode == RunMode.MULTIRUN


@contextlib.contextmanager
def tensorflow_notices_hidden():
    """Hide what TensorFlow's C++ libraries write straight to file descriptor 2 while they load and look
    for devices (absl start-up notices, CUDA stubs on machines without a GPU): TF_CPP_MIN_LOG_LEVEL does not
    reach them. The run logs the devices it found instead; TRAINER_TF_NOTICES=1 shows the notices."""
    if os.environ.get("TRAINER_TF_NOTICES") == "1":
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg) -> float:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's Python-side info and warnings
    with tensorflow_notices_hidden():
        import tensorflow as tf

        from trainer.train import summarize, train

        tf.config.list_physical_devices()
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
