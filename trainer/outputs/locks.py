"""One live run per directory: a run holds `<dir>/.lock` while it lives, so that a second one started in the
same directory (two terminals, one `hydra.run.dir`) is refused rather than mixed into it; a sweep holds its
sweep directory's the same way, so that a second sweep into it is refused before it writes anything there
(but an Optuna search's, which its workers share: their study gives each trial a directory of its own).

`ClaimDirectories`, a Hydra callback (conf/config.yaml, conf/compare.yaml), claims a multirun's sweep
directory before Hydra writes its record (multirun.yaml) into it, and a comparison's directory before Hydra
writes its config there (its jobs' multiruns, in its worker processes, share its phases' directories), and
creates a run's directory, or says in one line why it cannot. A run's directory is claimed by `train`
(trainer/train.py), since the workers of a multi-worker run share it, each holding a folder of its own inside
it; the same process may claim a directory it holds again."""

import fcntl
import os
from contextlib import ExitStack, contextmanager
from pathlib import Path

from hydra.experimental.callback import Callback

from trainer.errors import DirectoryInUse, OutputError
from trainer.outputs.study import SWEEPER

HELD: set[Path] = set()  # the directories this process holds


@contextmanager
def claimed(directory: Path, kind: str = "run"):
    """Create `directory` and hold its `.lock` while the block runs; refuse it, naming the live owner's pid,
    where another process holds it. The operating system lets go of the lock when the process ends."""
    directory = Path(directory).absolute()
    if directory in HELD:
        yield
        return
    made(directory, kind)
    try:
        lock = open(directory / ".lock", "a+b", buffering=0)  # unbuffered: closing it writes nothing
    except OSError as error:
        raise OutputError(directory / ".lock", error.strerror or str(error)) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().decode().strip() or "?"
            raise DirectoryInUse(
                f"{kind} directory {directory} is in use by a live {kind} (pid {owner}); "
                f"wait for it to end, or choose another hydra.{kind}.dir"
            ) from None
        try:
            lock.truncate(0)
            lock.write(f"{os.getpid()}\n".encode())
        except OSError as error:
            raise OutputError(directory / ".lock", error.strerror or str(error)) from None
        HELD.add(directory)
        try:
            yield
        finally:
            HELD.discard(directory)


def made(directory: Path, kind: str) -> None:
    """Create `directory` (with its parents), or raise the OutputError that says why it cannot be."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        advice = f"set hydra.{kind}.dir to a folder you can write"
        raise OutputError(directory, error.strerror or str(error), advice) from None


class ClaimRefused(BaseException):  # noqa: N818 (carries the refusal, `error`)
    """A claim refused in a Hydra callback: Hydra only warns of an Exception a callback raises and goes on, so
    the refusal travels as this BaseException to the command (trainer/cli.py), which prints its `error`."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class ClaimDirectories(Callback):
    """Create a run's directory, and claim it where `claim_run` (a comparison's, whose jobs' multiruns share its
    phases' directories; a training run's own is claimed by `train`); claim a multirun's sweep directory for as
    long as the multirun lasts."""

    def __init__(self, claim_run: bool = False):
        self.claim_run, self.held = claim_run, ExitStack()

    def __getstate__(self) -> dict:
        return {"claim_run": self.claim_run}  # a launcher's pickled copy, in a job's process, holds nothing

    def __setstate__(self, state: dict) -> None:
        self.claim_run, self.held = state["claim_run"], ExitStack()

    def on_run_start(self, config, **kwargs) -> None:
        try:
            if self.claim_run:
                self.held.enter_context(claimed(Path(config.hydra.run.dir), "run"))
            else:
                made(Path(config.hydra.run.dir), "run")
        except (DirectoryInUse, OutputError) as error:
            raise ClaimRefused(error) from None

    def on_multirun_start(self, config, **kwargs) -> None:
        shared = config.hydra.sweeper.get("_target_") == SWEEPER  # an Optuna search's workers share its
        # directory, and its study keeps them apart
        try:
            if shared:
                made(Path(config.hydra.sweep.dir), "sweep")
            else:
                self.held.enter_context(claimed(Path(config.hydra.sweep.dir), "sweep"))
        except (DirectoryInUse, OutputError) as error:
            raise ClaimRefused(error) from None

    def on_run_end(self, config, **kwargs) -> None:
        self.held.close()

    def on_multirun_end(self, config, **kwargs) -> None:
        self.held.close()
