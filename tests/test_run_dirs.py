"""Nothing a user starts silently resumes, overwrites or mixes with another run: each run has a directory
of its own, a directory in use is refused, a run resumes only under its own configuration, and a finished
run run again changes nothing."""

import json
import subprocess
import sys

import pytest

from trainer.errors import ConfigError, DirectoryInUse
from trainer.train import train


@pytest.mark.slow
def test_two_runs_started_at_once_get_a_directory_each(tmp_path):
    """Two terminals, one command, the same second: each run ends with its own complete results."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "trainer", "trainer.steps=300"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for child in children:
        _, stderr = child.communicate(timeout=300)
        assert child.returncode == 0, stderr

    run_dirs = sorted((tmp_path / "outputs" / "runs").iterdir())
    assert len(run_dirs) == 2
    for run_dir in run_dirs:
        assert json.loads((run_dir / "metrics.json").read_text())["steps"] == 300
        assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
        assert [path.name for path in (run_dir / "checkpoints").glob("*.index")] == ["ckpt-300.index"]


HOLDER = """import sys, time
from trainer.outputs.locks import claimed
with claimed(sys.argv[1]):
    print(flush=True)
    time.sleep(60)
"""  # a live run, as far as its directory's lock goes


def test_a_directory_in_use_by_a_live_run_is_refused(make_config, tmp_path):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    holder.stdout.readline()  # another live process holds it
    with pytest.raises(DirectoryInUse, match=rf"run directory {run_dir} is in use by a live run \(pid {holder.pid}\)"):
        train(make_config("trainer.steps=10"))
    holder.kill()
    holder.wait()
    assert not (run_dir / "metrics.json").exists()

    assert train(make_config("trainer.steps=10"))["steps"] == 10  # free again once that run ended


def test_resuming_under_other_settings_is_refused_naming_the_keys(make_config, tmp_path):
    first = train(make_config("trainer.steps=20"))

    with pytest.raises(
        ConfigError,
        match=r"cannot resume .*/checkpoints: it was trained with other settings: "
        r"optimizer.learning_rate \(0.1, now 0.5\); only the step budget",
    ):
        train(make_config("trainer.steps=40", "optimizer.learning_rate=0.5"))
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == first  # nothing lost

    assert train(make_config("trainer.steps=40"))["steps"] == 40  # a longer budget is a continuation


def test_a_finished_run_run_again_leaves_its_results_as_they_were(make_config, fake_mnist, tmp_path):
    overrides = ["experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=1"]
    first = train(make_config(*overrides))
    run_dir = tmp_path / "run"
    written = {
        path: (path.read_bytes(), path.stat().st_mtime_ns)
        for path in run_dir.rglob("*")
        if path.is_file() and path.name != ".lock"
    }

    again = train(make_config(*overrides))

    assert again == first and first["loss"] > 0
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in written} == written
    assert sorted(path for path in run_dir.rglob("*") if path.is_file() and path.name != ".lock") == sorted(written)
