"""Runs of one structure in one process (trainer/loop/reuse.py): a run that takes an earlier run's built and
compiled program ends with the numbers of the same run built afresh, bit for bit under trainer.deterministic,
for every optimizer of conf/optimizer/, and its log points are its own."""

import json

import pytest

from tests.conftest import choices, read_scalars
from trainer.loop.reuse import REUSABLE, VALUES, matches
from trainer.train import train

STEPS = ("trainer.steps=12", "trainer.log_every=4", "trainer.deterministic=true")


@pytest.mark.parametrize("name", choices("optimizer"))
def test_a_reused_run_ends_as_the_run_built_afresh(make_config, tmp_path, name):
    def run(directory: str, *overrides: str) -> dict:
        train(make_config(f"optimizer={name}", *STEPS, *overrides, f"output_dir={tmp_path / directory}"))
        return json.loads((tmp_path / directory / "metrics.json").read_text())

    REUSABLE.clear()
    afresh = run("afresh")
    other = run("other", "trainer.seed=3", "model.initial=[1.0]", "trainer.steps=5")  # its program, reused
    reused = run("reused")

    assert reused == afresh and other["steps"] == 5
    assert read_scalars(tmp_path / "reused")["train/loss"] == read_scalars(tmp_path / "afresh")["train/loss"]


def test_the_values_a_run_may_change_are_named_exactly():
    assert matches("trainer.steps", VALUES) and matches("logging.pictures", VALUES)
    assert not matches("trainer.steps_per_call", VALUES) and not matches("trainer.log_every", VALUES)
