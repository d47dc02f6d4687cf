"""Where a comparison's jobs run (conf/compare.yaml's `processes`): in worker processes side by side, by
default one per core, or in the comparison's own process. Each worker is started once for the comparison and
runs the multiruns it is given as the comparison's process would, in turn; a (problem, optimizer) pair's jobs
go to the same worker in every phase (trainer/compare/launch.py), so that its program is built and compiled
once (trainer/loop/reuse.py). A job's numbers do not depend on the process that runs it (a reused run's are a
fresh process's), so the report is the one a single process writes. A job is mostly Python work between short
compiled calls, which one process runs on one core: the README's comparison took 55 s in one process on 2
cores, and 36 s in two workers, each on a core of its own. A worker writes the report, where TensorFlow
is imported already.

The workers are a process group of their own, and Ctrl-C or SIGTERM to the comparison is passed on to them:
each running job saves its checkpoint and stops, as it would in the comparison's process, and the comparison
ends with one line once every worker has."""

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from trainer.config.sweeps import shared_compositions
from trainer.errors import Interrupted, TrainerError

SIGNALS = (signal.SIGINT, signal.SIGTERM)
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
WORKER = contextlib.ExitStack()  # what a worker holds for its life: the compositions its multiruns share


def worker_count(setting: int | None, launcher: str, pairs: int) -> int:
    """The processes that run the jobs for `processes` (`setting`): its number, or where it is null, one per
    core this process may use (no more than the pairs) under a launcher that runs its jobs in its own
    process; else the comparison's alone (a parallel launcher or a cluster runs them side by side itself)."""
    if setting is not None:
        return setting
    if launcher not in ("trainer", "basic"):
        return 1
    return max(1, min(len(cores()) if cores() else os.cpu_count() or 1, pairs))


def cores() -> list[int] | None:
    """The cores this process may run on, where the system tells (Linux); else None."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


class InProcess:
    """One share of the jobs, run in the comparison's own process."""

    def __len__(self) -> int:
        return 1

    def run(self, function, shares: list[tuple]) -> list:
        return [function(*share) for share in shares]

    def call(self, function, *arguments):
        return function(*arguments)


class Workers:
    """`count` worker processes, spawned (a fork would copy the comparison's threads and Hydra's state), each
    on a core of its own where there are as many cores: TensorFlow sizes its thread pools to the cores it may
    use, and two processes whose pools span both cores slowed each other's compiled calls by half."""

    def __init__(self, count: int):
        context, usable = multiprocessing.get_context("spawn"), cores() or []
        self.pools = [
            ProcessPoolExecutor(1, context, start_worker, ({usable[index]} if count <= len(usable) else None,))
            for index in range(count)
        ]
        self.pids = [future.result() for future in [pool.submit(os.getpid) for pool in self.pools]]

    def __len__(self) -> int:
        return len(self.pools)

    def run(self, function, shares: list[tuple | None]) -> list:
        """`function(*shares[i])` in worker i, for each share not None; their results once all have ended, or
        the first error. A signal received meanwhile is passed on to the workers."""
        futures = [None if share is None else pool.submit(function, *share) for pool, share in zip(self.pools, shares)]
        previous, self.received = {number: signal.signal(number, self.pass_on) for number in SIGNALS}, None
        try:
            wait([future for future in futures if future is not None])
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        if self.received:  # a worker between two jobs ends at once, one in a job once it is saved
            raise Interrupted(
                self.received,
                f"stopped by {self.received.name}; each job running in a worker wrote its checkpoint: run the same "
                "command to resume",
            )
        try:
            return [None if future is None else future.result() for future in futures]
        except BrokenProcessPool:
            raise TrainerError(
                "a worker process of the comparison ended before its jobs did (killed?): run the same command to resume"
            ) from None

    def call(self, function, *arguments):
        """`function(*arguments)` in the first worker."""
        return self.run(function, [arguments])[0]

    def pass_on(self, number: int, frame) -> None:
        self.received = signal.Signals(number)
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    def close(self) -> None:
        for pool in self.pools:
            pool.shutdown()


def start_worker(pinned: set[int] | None) -> None:
    """A worker's set-up, before its first task: a process group of its own, so that the terminal's Ctrl-C
    reaches it once, from the comparison; SIGTERM when the comparison's process dies (killed outright: its
    running jobs checkpoint, and none is started after it), where Linux can say so; the cores it is `pinned`
    to; GPU memory taken as it is needed, so that the workers share a GPU; the compositions of its multiruns
    shared, as the comparison's own process shares them."""
    os.setpgrp()
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if pinned:
        os.sched_setaffinity(0, pinned)
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    WORKER.enter_context(shared_compositions())


@contextlib.contextmanager
def started(count: int):
    """The workers of `count` processes (`InProcess` for one), closed after the block."""
    if count == 1:
        yield InProcess()
        return
    workers = Workers(count)
    try:
        yield workers
    finally:
        workers.close()
