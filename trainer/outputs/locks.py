"""One live run per directory: a run holds `<dir>/.lock` while it lives, so that a second one started in
the same directory (two terminals, one `hydra.run.dir`) is refused rather than mixed into it."""
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from trainer.errors import ConfigError


@contextmanager
def claimed(run_dir: Path):
    """Hold `<run_dir>/.lock` while the run lives; the operating system lets go of it when the process ends."""
    with open(run_dir / ".lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise ConfigError(f"run directory {run_dir} is in use by a live run (pid {lock.read().strip() or '?'}); "
                              "wait for it to end, or choose another hydra.run.dir") from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield
