"""Worker processes that run a command's jobs side by side: a comparison's (conf/compare.yaml's `processes`,
trainer/compare/launch.py) and a multirun's under the trainer launcher (`hydra.launcher.processes`,
plugins/hydra/). Each worker is started once for the command and runs the shares of jobs it is given as the
command's own process would, in turn, so that jobs of one structure that meet in a worker share their program
(trainer/loop/reuse.py). A job's numbers do not depend on the process that runs it (a reused run's are a fresh
process's): tests/test_compare.py and tests/test_sweeps.py check it. A job of a scalar problem is mostly Python
work between short compiled calls, which one process runs on one core: the README's comparison took 59 s in
one process on 2 cores, and 37 s in two workers, each on a core of its own (docs/benchmarks.md).

The workers are a process group of their own. Ctrl-C or SIGTERM to the command is passed on to the workers
that run a task, as SIGTERM: a running job stops as a run stops (at a checkpoint, where it writes them), a
worker between two jobs ends, and the command ends with one line once every worker has. A worker whose
task fails stops the others the same way, and its error is the command's."""

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import traceback
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from trainer.config.sweeps import shared_compositions
from trainer.errors import ConfigError, Interrupted, TrainerError, find_trainer_error
from trainer.loop.signals import StopSignals

BROKEN = "a worker process of {} ended before its jobs did (killed?): run the same command to resume"
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
WORKER = contextlib.ExitStack()  # what a worker holds for its life: the compositions its multiruns share
IN_WORKER = False  # whether this process is a worker: its jobs' stop lines are the command's to print


def check_processes(value, key: str) -> None:
    """Refuse a `processes` setting (`key`) that is neither null nor a whole number of processes."""
    if value is not None and (type(value) is not int or value < 1):
        raise ConfigError(f"{key} must be an integer >= 1, or null for one per core; got {value!r}")


def worker_count(setting: int | None, shares: int) -> int:
    """The processes that run the jobs for a `processes` setting: its number, or where it is null, one per core
    this process may use; no more than the `shares` of jobs there are to give them."""
    per_core = len(cores() or []) or os.cpu_count() or 1
    return max(1, min(per_core if setting is None else setting, shares))


def cores() -> list[int] | None:
    """The cores this process may run on, where the system tells (Linux); else None."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


class InProcess:
    """One share of the jobs, run in the command's own process."""

    def __len__(self) -> int:
        return 1

    def run(self, function, shares: list[tuple]) -> list:
        return [function(*share) for share in shares]

    def call(self, function, *arguments):
        return function(*arguments)


class Workers:
    """`count` worker processes, spawned (a fork would copy the command's threads and Hydra's state), each
    on a slice of the cores of its own where there are as many cores: TensorFlow sizes its thread pools to the
    cores it may use, and two processes whose pools spanned both cores slowed each other's compiled calls by
    half. `owner` (the comparison, the sweep) and `setting` (its `processes` key) name them in messages. This
    process and they take GPU memory as they need it (they inherit the setting), so that all share a GPU."""

    def __init__(self, count: int, owner: str, setting: str):
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        context, usable = multiprocessing.get_context("spawn"), cores() or []
        size = len(usable)
        slices = [set(usable[index * size // count : (index + 1) * size // count]) for index in range(count)]
        if count > size:  # fewer cores than workers (or none known): none pinned
            slices = [None] * count
        self.pools = [ProcessPoolExecutor(1, context, start_worker, (pinned, os.getpid())) for pinned in slices]
        self.running: list = [None] * count  # each worker's task, while it runs one
        self.broken = BROKEN.format(owner)
        try:
            self.pids = [future.result() for future in [pool.submit(os.getpid) for pool in self.pools]]
        except BrokenProcessPool:
            self.close()
            raise TrainerError(f"{owner}'s worker processes could not start; {setting}=1 runs without") from None

    def __len__(self) -> int:
        return len(self.pools)

    def run(self, function, shares: list[tuple | None]) -> list:
        """`function(*shares[i])` in worker i, for each share not None; their results, in order, once all have
        ended. Where one fails, or a stop signal arrives, the others are stopped (`stop`) and waited for, and the
        first failure is raised (a stop signal's `Interrupted` before it)."""
        with StopSignals(then=self.stop) as signals:  # passed on as SIGTERM to the workers running a task
            try:
                for index, (pool, share) in enumerate(zip(self.pools, shares)):
                    if share is not None:
                        self.running[index] = pool.submit(in_worker, function, *share)
                tasks = [task for task in self.running if task]
                done, left = wait(tasks, return_when=FIRST_EXCEPTION)
                failed = next((task for task in tasks if task in done and task.exception()), None)
                if left:  # one failed
                    self.stop()
                    wait(left)
            except BrokenProcessPool:  # a worker died since its last task: submit refused this one
                self.stop()
                wait([task for task in self.running if task])
                raise TrainerError(self.broken) from None
            finally:
                self.running = [None] * len(self)
        if signals.received:
            raise Interrupted(
                signals.received,
                f"stopped by {signals.received.name}: each worker's running job stopped as a run stops, at a "
                "checkpoint where it writes them; run the same command to resume",
            )
        try:
            return [task.result() for task in ([failed] if failed else tasks)]
        except BrokenProcessPool:
            raise TrainerError(self.broken) from None

    def call(self, function, *arguments):
        """`function(*arguments)` in the first worker."""
        return self.run(function, [arguments])[0]

    def stop(self) -> None:
        """SIGTERM to each worker running a task: a job in a run checkpoints and stops, one between runs ends. An
        idle worker is left alone, and none gets the SIGINT that a terminal's Ctrl-C sent (it would print its
        traceback)."""
        for pid, task in zip(self.pids, self.running):
            if task and not task.done():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def close(self) -> None:
        for pool in self.pools:
            pool.shutdown()


def in_worker(function, *arguments):
    """`function(*arguments)` in a worker. An error reaches the command's process as the TrainerError it
    amounts to, or as a RuntimeError holding its traceback: a pickled error loses the causes it was found by."""
    try:
        return function(*arguments)
    except Exception as error:
        problem = find_trainer_error(error)
        if problem is not None:
            raise problem from None
        raise RuntimeError("".join(traceback.format_exception(error))) from None


def start_worker(pinned: set[int] | None, parent: int) -> None:
    """A worker's set-up, before its first task: a process group of its own, so that the terminal's Ctrl-C
    reaches the command's process alone, which passes it on; SIGTERM when that process (`parent`) dies
    (killed outright: a running job checkpoints, and none is started after it), where Linux can say so; the
    cores it is `pinned` to; the compositions of its multiruns shared, as a comparison's own process shares
    them; `IN_WORKER` set."""
    os.setpgrp()
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGTERM))
        if os.getppid() != parent:  # it died before the request was made
            os.kill(os.getpid(), signal.SIGTERM)
    if pinned:
        os.sched_setaffinity(0, pinned)
    WORKER.enter_context(shared_compositions())
    global IN_WORKER
    IN_WORKER = True


@contextlib.contextmanager
def started(count: int, owner: str, setting: str):
    """The workers of `count` processes (`InProcess` for one), closed after the block."""
    if count == 1:
        yield InProcess()
        return
    workers = Workers(count, owner, setting)
    try:
        yield workers
    finally:
        workers.close()
