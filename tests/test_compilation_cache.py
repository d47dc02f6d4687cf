"""trainer.compilation_cache: a later process loads the program an earlier one compiled, from a folder of the
machine's own; a damaged entry and a directory that cannot be made each end the command in one line."""

import json
import os
import subprocess

import pytest

from tests.conftest import run_trainer, trainer_process
from trainer.startup import machine_key


def cached_run(*args: str, xdg=None) -> subprocess.CompletedProcess:
    """A 30-step default run in a process of its own, with XDG_CACHE_HOME at `xdg` where it is given."""
    return trainer_process("trainer.steps=30", *args, env={**os.environ, "XDG_CACHE_HOME": str(xdg)} if xdg else None)


@pytest.mark.slow
def test_a_later_process_loads_the_compiled_program_and_a_damaged_one_is_one_line(tmp_path):
    cache = tmp_path / "cache"
    first = cached_run(f"trainer.compilation_cache={cache}", f"hydra.run.dir={tmp_path / 'first'}")
    assert first.returncode == 0, first.stderr
    (entry,) = (cache / machine_key()).iterdir()
    assert entry.name.startswith("xla_compile_cache__")
    written = entry.stat()

    second = cached_run(f"trainer.compilation_cache={cache}", f"hydra.run.dir={tmp_path / 'second'}")
    assert second.returncode == 0, second.stderr
    assert "cpu_aot_loader" not in second.stderr  # the loader's notices about tuning flags, hidden
    assert (entry.stat().st_ino, entry.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)  # loaded
    metrics = [json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("first", "second")]
    assert metrics[0] == metrics[1]

    entry.write_bytes(b"damaged")
    damaged = cached_run(f"trainer.compilation_cache={cache}", f"hydra.run.dir={tmp_path / 'third'}")
    assert damaged.returncode == 1
    assert (
        damaged.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"trainer: XLA's cache of compiled programs in {cache / machine_key()} has an entry it cannot read ("
        )
    )
    assert "Traceback" not in damaged.stderr

    off = cached_run("trainer.compilation_cache=null", f"hydra.run.dir={tmp_path / 'off'}", xdg=tmp_path / "xdg")
    assert off.returncode == 0 and not (tmp_path / "xdg" / "trainer").exists()  # (matplotlib keeps its own there)


def test_the_cache_is_on_by_default_in_the_users_cache_directory(make_config):
    assert make_config().trainer.compilation_cache == f"{os.environ['XDG_CACHE_HOME']}/trainer/xla"


def test_a_cache_directory_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    result = run_trainer(f"trainer.compilation_cache={tmp_path / 'file' / 'cache'}", f"hydra.run.dir={tmp_path}/run")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"trainer: trainer.compilation_cache: cannot make {tmp_path / 'file' / 'cache' / machine_key()} (Not a "
        "directory); name a directory this user can write, or null for no cache"
    )
