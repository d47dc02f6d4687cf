"""Populations (trainer/loop/population.py): runs of one structure trained together in one compiled program
end as each would alone; the trainer launcher groups a sweep's consecutive jobs of one structure
(`hydra.launcher.population`) and its summary is the one-by-one launcher's; a population stopped by SIGTERM
resumes, each run exactly. Every optimizer's member is checked in tests/test_reuse.py."""

import json
import signal

import numpy as np
import pytest

from tests.conftest import FAST, final_weights, run_sweep, run_trainer, start_trainer, wait_for
from trainer.train import train, train_population


def metrics_of(directory) -> dict:
    return json.loads((directory / "metrics.json").read_text())


def test_members_on_data_end_as_each_run_alone_and_a_diverging_one_fails_alone(make_config, fake_mnist, tmp_path):
    shared = ("experiment=mnist", f"data.path={fake_mnist}", "trainer.steps=40", "trainer.log_every=8")
    settings = [("trainer.seed=0",), ("trainer.seed=1", "optimizer.learning_rate=1e30"), ("trainer.seed=2",)]
    members = [make_config(*shared, *own, f"output_dir={tmp_path / f'member{i}'}") for i, own in enumerate(settings)]
    outcomes = train_population(members)

    def alone(index: int):
        return make_config(*shared, *settings[index], f"output_dir={tmp_path / f'alone{index}'}")

    for index in (0, 2):
        expected = train(alone(index))
        # XLA compiles each run's step on its own in the population too: the same floats here, but within
        # float rounding is all its compiler promises
        assert outcomes[index].keys() == expected.keys()
        assert outcomes[index] == pytest.approx(expected, rel=1e-6)
        for got, want in zip(final_weights(tmp_path / f"member{index}"), final_weights(tmp_path / f"alone{index}")):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    with pytest.raises(Exception) as diverged:  # the same error, at the same step
        train(alone(1))
    assert str(outcomes[1]) == str(diverged.value)
    assert metrics_of(tmp_path / "member1") == metrics_of(tmp_path / "alone1")
    assert str(outcomes[1]).startswith("the loss became nan at step 2:")


@pytest.mark.slow
def test_a_sweep_of_populations_and_jobs_alone_summarizes_as_one_job_at_a_time(fake_mnist, tmp_path):
    jobs = (
        "experiment=mnist",
        f"data.path={fake_mnist}",
        "model.units=[16],[8]",  # each width a structure of its own
        "trainer.seed=0,1,2",  # the sweep's last override: its jobs are consecutive
        "trainer.steps=20",
        *FAST,
    )
    _, alone = run_sweep(tmp_path / "alone", *jobs)
    result, together = run_sweep(tmp_path / "together", *jobs, "hydra.launcher.population=2")

    shown = result.stdout + result.stderr
    groups = [f"#{first} to #{first + 1}: 2 jobs of one structure trained together" for first in (0, 3)]
    assert all(group in shown for group in groups) and shown.count("trained together") == 2  # each third alone
    assert [{k: v for k, v in row.items() if k != "directory"} for row in together] == [
        {k: v for k, v in row.items() if k != "directory"} for row in alone
    ]
    assert len(together) == 6 and all(row["status"] == "ok" for row in together)


@pytest.mark.slow
def test_a_population_stopped_by_sigterm_resumes_each_run_exactly(fake_mnist, tmp_path):
    args = [
        "-m",
        "experiment=mnist",
        f"data.path={fake_mnist}",
        "trainer.seed=0,1",
        "trainer.steps=800",
        "trainer.deterministic=true",
        "trainer.checkpoint_every=50",
        "trainer.steps_per_call=10",
        "trainer.log_every=50",
        *FAST,
    ]
    child = start_trainer(*args, "hydra.launcher.population=2", f"hydra.sweep.dir={tmp_path / 'stopped'}")
    wait_for(tmp_path / "stopped", "*/checkpoints/checkpoint", child)
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 128 + signal.SIGTERM, stderr
    assert "each of the 2 runs trained together wrote its checkpoint: run the same command to resume" in stderr
    jobs = sorted(path for path in (tmp_path / "stopped").iterdir() if path.is_dir() and path.name[0].isdigit())
    assert len(jobs) == 2 and not any((job / "metrics.json").exists() for job in jobs)

    resumed = run_trainer(*args, "hydra.launcher.population=2", f"hydra.sweep.dir={tmp_path / 'stopped'}")
    assert resumed.returncode == 0, resumed.stderr
    assert "#0 to #1: 2 jobs of one structure trained together" in resumed.stdout + resumed.stderr
    uninterrupted = run_trainer(*args, f"hydra.sweep.dir={tmp_path / 'alone'}")
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    for job in jobs:
        assert metrics_of(job) == metrics_of(tmp_path / "alone" / job.name)
        for got, want in zip(final_weights(job), final_weights(tmp_path / "alone" / job.name), strict=True):
            np.testing.assert_array_equal(got, want)
