"""`python -m bench.measured REPORT -m MODULE ARGS... | -c CODE`: run a command as `python` would, then write
its peak resident set size in kB (VmHWM) to REPORT at exit.

The child reads its own high-water mark: the `ru_maxrss` a parent gets from `wait4` also counts the
parent's memory at fork time, which for a benchmark process holding TensorFlow and MNIST is most of it.
"""

import atexit
import runpy
import sys
from pathlib import Path


def write_peak_rss(report: str) -> None:
    status = Path("/proc/self/status").read_text()
    Path(report).write_text(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def main() -> None:
    report, mode, target, *args = sys.argv[1:]
    atexit.register(write_peak_rss, report)
    if mode == "-m":
        sys.argv = [target, *args]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = ["-c", *args]
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})


if __name__ == "__main__":
    main()
