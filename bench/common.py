"""What every benchmark needs: composed configs, repeated timings, child processes measured alone."""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from trainer.config.compose import compose_config

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Section:
    """One table of docs/benchmarks.md: rows of figures, and each target with whether it was met and, for a
    target missed, what limits it."""

    title: str
    note: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    targets: list[tuple[str, str, bool, str]] = field(default_factory=list)  # (target, measured, met, limit)


def config(*overrides: str):
    """The project's config composed with overrides, writing into a throw-away directory."""
    return compose_config(f"output_dir={tempfile.mkdtemp()}", *overrides)


def median_seconds(work, repeats: int) -> float:
    """Median wall time of `work()` over `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def start_child(*args: str) -> subprocess.Popen:
    """`python *args` from the repository root, its output lines readable as they come."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def finish(child: subprocess.Popen, args) -> None:
    output = child.stdout.read()
    if child.wait() != 0:
        raise RuntimeError(f"python {' '.join(args)} failed:\n{output[-2000:]}")


def seconds_until(marker: str | None, *args: str) -> float:
    """Wall seconds from starting `python *args` to its first output line containing `marker`, or to
    its exit where `marker` is None."""
    start = time.perf_counter()
    child = start_child(*args)
    seconds = None
    for line in child.stdout:
        if marker is not None and marker in line:
            seconds = time.perf_counter() - start
            break
    finish(child, args)
    if marker is None:
        return time.perf_counter() - start
    if seconds is None:
        raise RuntimeError(f"python {' '.join(args)} never printed {marker!r}")
    return seconds


def median_seconds_until(repeats: int, marker: str | None, *args: str) -> float:
    return statistics.median(seconds_until(marker, *args) for _ in range(repeats))


def peak_rss_mb(*args: str) -> float:
    """Peak resident set size of `python *args`, as the child itself reports it (bench/measured.py)."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "peak_rss_kb"
        finish(start_child("-m", "bench.measured", str(report), *args), args)
        return int(report.read_text()) / 1024
