"""Errors a user can act on. `python -m trainer` shows each as one line on stderr, without a traceback
(unless HYDRA_FULL_ERROR=1), and exits with its `exit_code`.

`find_trainer_error` also reads two kinds of low-level failure as the error they amount to: a write that
failed for want of space or permission (an `OSError`, or TensorFlow's error for an event file or checkpoint)
as an `OutputError`, and a data check that failed inside a tf.data pipeline (trainer/data.py), whose
message starts with DATA_CHECK, as a `DataError`.
"""

import errno
import signal
from contextlib import contextmanager

DATA_CHECK = "trainer data check: "  # starts the message of a check of the examples that failed as they were read
# Why a write fails that its user can mend: no space, no permission, a read-only disk, a file too large.
WRITE_FAILURES = (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG, errno.ENOTDIR)
TENSORFLOW_WRITE_FAILURES = (
    "No space left on device",
    "Disk quota exceeded",
    "Permission denied",
    "Read-only file system",
    "File too large",
)


class TrainerError(Exception):
    exit_code = 1

    def __reduce__(self):
        """Pickled as its kind, its line and its exit status, whatever its own arguments: one raised in a worker
        process (trainer/workers.py) is raised again as itself in the process that waits for it."""
        return restored, (type(self), str(self), self.exit_code)


def restored(kind: type, line: str, exit_code: int) -> TrainerError:
    """A TrainerError of `kind`, as `TrainerError.__reduce__` pickled it."""
    error = kind.__new__(kind)
    Exception.__init__(error, line)
    error.exit_code = exit_code
    return error


class ConfigError(TrainerError, ValueError):
    """A config value that cannot work; the message names the key and what is valid."""


class DirectoryInUse(ConfigError):
    """Another live process holds the run or sweep directory; nothing was written into it."""


class DataError(TrainerError):
    """A data file that cannot be used; the message names the file and what was expected."""


class OutputError(TrainerError):
    """A result could not be written (no space, no permission); what was written before is intact."""

    def __init__(self, path, reason: str, advice: str = ""):
        if advice:
            super().__init__(f"cannot write {path}: {reason}; {advice}")
            return
        super().__init__(
            f"cannot write {path}: {reason}; what was saved before is intact: make room (or allow "
            "writing there), then run the same command again"
        )


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
    """The TrainerError behind `error` (also where Hydra's instantiate wrapped one raised by a plugin), or
    the one a low-level failure in its chain amounts to; None for any other error."""
    while error is not None:
        found = error if isinstance(error, TrainerError) else write_failure(error) or data_check_failure(error)
        if found is not None:
            return found
        error = error.__cause__ or error.__context__
    return None


def write_failure(error: BaseException) -> "OutputError | None":
    """The `OutputError` a failed write amounts to: an OSError of WRITE_FAILURES, or TensorFlow's error for
    an event file or checkpoint it could not write (whose message names the file first)."""
    if isinstance(error, OSError) and error.errno in WRITE_FAILURES:
        return OutputError(error.filename or "a result file", error.strerror)
    message = str(getattr(error, "message", ""))  # tf.errors.OpError's, without its traceback
    reason = next((reason for reason in TENSORFLOW_WRITE_FAILURES if reason in message), None)
    if reason is None:
        return None
    path = message.split("}}")[-1].strip().split(";")[0].split(":")[0].strip()
    return OutputError(path or "a result file", reason)


def data_check_failure(error: BaseException) -> "DataError | None":
    """The `DataError` of a check of the examples that failed inside a tf.data pipeline."""
    message = str(getattr(error, "message", ""))
    if DATA_CHECK not in message:
        return None
    return DataError(message.split(DATA_CHECK, 1)[1].splitlines()[0].strip().rstrip("]'\""))


@contextmanager
def reported():
    """Raise an error inside the block as the TrainerError it amounts to, where that is another error."""
    try:
        yield
    except Exception as error:
        problem = find_trainer_error(error)
        if problem is None or problem is error:
            raise
        raise problem from error
