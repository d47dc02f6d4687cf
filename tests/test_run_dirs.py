"""Nothing a user starts mixes with another run: each run has a directory of its own, a directory in use by a
live run or a live sweep is refused before anything is written into it, and a directory that cannot be made
is one line, for every command."""

import json
import subprocess
import sys

import pytest

from tests.conftest import FAST, ROOT, start_trainer, trainer_process, wait_for
from trainer.errors import DirectoryInUse
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


@pytest.mark.slow
def test_a_second_sweep_into_a_live_sweeps_directory_is_refused_and_writes_nothing(tmp_path):
    first = start_trainer(
        "-m",
        "optimizer=sgd,adam",
        "trainer.steps=20000",
        "trainer.checkpoint_every=null",
        *FAST,
        f"hydra.sweep.dir={tmp_path}",
    )
    wait_for(tmp_path, "multirun.yaml", first)
    before = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*"))

    second = trainer_process("-m", "optimizer=rmsprop", f"hydra.sweep.dir={tmp_path}")
    assert second.returncode == 1
    assert second.stderr == (
        f"trainer: sweep directory {tmp_path} is in use by a live sweep (pid {first.pid}); wait for it to end, "
        "or choose another hydra.sweep.dir\n"
    )
    assert not [path for path in tmp_path.rglob("*") if "rmsprop" in str(path)]
    assert all(path in {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} for path in before)

    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    summary = (tmp_path / "summary.csv").read_text()
    assert "rmsprop" not in summary and summary.count(",ok,") == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "command, key",
    [
        (["trainer"], "hydra.run.dir"),
        (["trainer", "-m"], "hydra.sweep.dir"),
        (["trainer.compare"], "hydra.run.dir"),
        (["trainer.gradcheck"], "hydra.run.dir"),
    ],
)
def test_a_run_directory_that_cannot_be_made_is_one_line_for_every_command(tmp_path, command, key):
    (tmp_path / "a_file").write_text("a file, not a folder\n")
    name = command[0]
    result = subprocess.run(
        [sys.executable, "-m", *command, f"{key}={tmp_path}/a_file/run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{name}: cannot write {tmp_path}/a_file/run"), result.stderr
    assert "Not a directory" in lines[0]
