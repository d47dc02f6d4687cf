"""Errors a user can act on. `python -m trainer` shows each as one line on stderr, without a traceback
(unless HYDRA_FULL_ERROR=1), and exits with its `exit_code`."""

import signal


class TrainerError(Exception):
    exit_code = 1


class ConfigError(TrainerError, ValueError):
    """A config value that cannot work; the message names the key and what is valid."""


class DataError(TrainerError):
    """A data file that cannot be used; the message names the file and what was expected."""


class Diverged(TrainerError):
    """The loss stopped being finite; the last good checkpoint is kept."""


class WorkerLost(TrainerError):
    """Another worker of a multi-worker run stopped answering; every worker stops, the checkpoints stay."""


class Interrupted(TrainerError):
    """SIGINT or SIGTERM arrived; a checkpoint was written to resume from."""

    def __init__(self, received: signal.Signals, message: str):
        super().__init__(message)
        self.exit_code = 128 + int(received)  # the shell's convention for a death by signal


def find_trainer_error(error: BaseException) -> TrainerError | None:
    """The TrainerError behind `error`, also where Hydra's instantiate wrapped one raised by a plugin."""
    while error is not None and not isinstance(error, TrainerError):
        error = error.__cause__ or error.__context__
    return error
