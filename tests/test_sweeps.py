"""Multiruns through the real command line: a sweep's summary, HParams experiment and shared landscape;
failing jobs; the list sweeper; the joblib launcher; the Optuna preset."""

import json
import os
import re
import signal

import pytest
from hydra.experimental.callback import Callback
from hydra_plugins.trainer.list_sweeper import ListSweeper
from trainer.plugins.tasks.scalar import ScalarTask

from tests.conftest import (
    FAST,
    assert_unlocked,
    read_tensors,
    run_sweep,
    run_trainer,
    session_hparams,
    start_trainer,
    wait_for,
)
from trainer.errors import ConfigError
from trainer.files import yaml_text
from trainer.outputs.jobs import Job, read_jobs


@pytest.mark.slow
def test_two_by_three_sweep_writes_hparams_a_six_row_summary_and_one_landscape(tmp_path):
    result, rows = run_sweep(
        tmp_path, "optimizer=sgd,adam", "optimizer.learning_rate=0.01,0.03,0.1", "trainer.steps=200"
    )
    assert [(row["job"], row["overrides"], row["status"]) for row in rows] == [
        (str(number), f"optimizer={name} optimizer.learning_rate={rate} trainer.steps=200", "ok")
        for number, (name, rate) in enumerate((n, r) for n in ("sgd", "adam") for r in ("0.01", "0.03", "0.1"))
    ]
    ranks = [(float(row["distance_to_minimum"]), float(row["objective"])) for row in rows]
    assert [row["best"] for row in rows] == ["yes" if rank == min(ranks) else "" for rank in ranks]
    for row in rows:
        metrics = json.loads((tmp_path / row["directory"] / "metrics.json").read_text())
        assert float(row["distance_to_minimum"]) == pytest.approx(metrics["distance_to_minimum"])
    assert (
        "| job | overrides | status | best | distance_to_minimum | objective |" in (tmp_path / "summary.md").read_text()
    )
    assert "best (minimize distance_to_minimum, then minimize objective): job " in result.stdout

    sessions = [session_hparams(tmp_path / row["directory"]) for row in rows]
    assert [(s["optimizer"], s["optimizer.learning_rate"]) for s in sessions] == [
        (name, rate) for name in ("SGD", "Adam") for rate in (0.01, 0.03, 0.1)
    ]
    assert all(s["trainer.steps"] == 200 and s["model"] == "Quadratic" for s in sessions)
    experiment = read_tensors(tmp_path)["_hparams_/experiment"]
    assert len(experiment) == 1

    assert (tmp_path / "landscape.png").read_bytes().startswith(b"\x89PNG")
    assert "landscape" in read_tensors(tmp_path)
    ((problem, paths),) = ScalarTask().sweep_paths(read_jobs(tmp_path)).values()
    assert len(paths) == 6
    for row, (label, path) in zip(rows, paths.items()):
        assert label == " ".join(row["overrides"].split()[:2])  # what every job shared is left out
        assert path[0, 0] == 5.0  # the start
        assert path[-1, 0] == pytest.approx(float(row["x"]))  # the end


@pytest.mark.slow
def test_sweep_where_jobs_raise_keeps_the_others_and_marks_the_failures(tmp_path):
    result, rows = run_sweep(tmp_path, "model.initial=[5.0],[1,2]", "optimizer=sgd,adam", "trainer.steps=20")
    assert [row["status"] for row in rows] == ["ok", "ok", "failed", "failed"]
    refused = "model.initial has 2 values for 1 names ['x']"  # the plugin's own refusal
    assert [row["error"] for row in rows[2:]] == [refused] * 2
    assert rows[0]["best"] == "yes" and float(rows[0]["loss"]) == pytest.approx(2.875, abs=1e-3)
    for row in rows[:2]:
        assert json.loads((tmp_path / row["directory"] / "metrics.json").read_text())["steps"] == 20
    assert "2 of 4 jobs failed:" in result.stdout
    assert f"job 2 (model.initial=[1,2] optimizer=sgd): {refused}" in result.stdout
    assert result.stderr.count(f"{refused}\n") == 2  # one line per job


def test_the_list_sweeper_runs_the_jobs_its_file_lists_each_in_its_own_directory(tmp_path):
    jobs = tmp_path / "jobs.yaml"
    listed = [
        ["optimizer=sgd", "trainer.seed=1", "hydra.sweep.subdir=first"],
        ["optimizer=adam", "optimizer.learning_rate=0.3", "hydra.sweep.subdir=second"],
    ]
    jobs.write_text(yaml_text(listed))
    result, rows = run_sweep(tmp_path / "sweep", "hydra/sweeper=list", f"hydra.sweeper.jobs={jobs}", "trainer.steps=10")

    assert [row["directory"] for row in rows] == ["first", "second"]
    first, second = (Job(tmp_path / "sweep" / row["directory"], {}, None) for row in rows)
    assert (first.setting("optimizer._target_"), first.setting("trainer.seed")) == ("keras.optimizers.SGD", 1)
    assert (second.setting("optimizer.learning_rate"), second.setting("trainer.seed")) == (0.3, 0)
    assert [row["overrides"] for row in rows] == [
        "trainer.steps=10 optimizer=sgd trainer.seed=1",
        "trainer.steps=10 optimizer=adam optimizer.learning_rate=0.3",
    ]

    missing = run_trainer("-m", "hydra/sweeper=list", f"hydra.sweeper.jobs={tmp_path / 'none.yaml'}")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1].startswith(f"trainer: hydra.sweeper.jobs: cannot read {tmp_path}")


def test_the_list_sweeper_refuses_a_jobs_file_that_is_not_yaml_in_one_line(tmp_path):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("- [optimizer=sgd\n- [")
    with pytest.raises(ConfigError, match=rf"^hydra.sweeper.jobs: {re.escape(str(jobs))} is not YAML \(while parsing"):
        ListSweeper(str(jobs)).listed()


@pytest.mark.slow
def test_joblib_launcher_runs_jobs_in_parallel_processes(tmp_path):
    result, rows = run_sweep(
        tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "optimizer=sgd,adam", "trainer.steps=50"
    )
    assert "Joblib.Parallel(n_jobs=2" in result.stdout
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert [int(float(row["steps"])) for row in rows] == [50, 50]
    assert (tmp_path / "landscape.png").is_file()


def unclocked(rows: list[dict]) -> list[dict]:
    """Summary rows without their seconds, which differ from one run to the next."""
    return [{key: value for key, value in row.items() if "seconds" not in key} for row in rows]


@pytest.mark.slow
def test_a_sweep_in_worker_processes_is_the_sweep_in_one(tmp_path):
    """hydra.launcher.processes=2: two worker processes, each running a half of the jobs in order, leave the
    summary (its failed jobs' errors too), records and metrics of the sweep in one process."""
    sweep = ["optimizer=sgd,adam", "model.initial=[5.0],[1,2]", "optimizer.learning_rate=0.1,0.3", "trainer.steps=20",
             *FAST]  # fmt: skip
    result, workers = run_sweep(tmp_path / "workers", *sweep, "hydra.launcher.processes=2")
    _, alone = run_sweep(tmp_path / "alone", *sweep)

    statuses = ["ok", "ok", "failed", "failed"] * 2  # sgd's jobs, then adam's
    assert unclocked(workers) == unclocked(alone) and [row["status"] for row in workers] == statuses
    assert "Launching 8 jobs in 2 worker processes" in result.stdout
    owners = [int((tmp_path / "workers" / row["directory"] / ".lock").read_text()) for row in workers]
    assert len({*owners[:4]}) == len({*owners[4:]}) == 1 and len({*owners, os.getpid()}) == 3  # a half each
    for row in workers:
        records = [read_records(tmp_path / run / row["directory"]) for run in ("workers", "alone")]
        records[0]["hydra.yaml"]["hydra"]["overrides"]["hydra"].remove("hydra.launcher.processes=2")
        records[0]["hydra.yaml"]["hydra"]["launcher"]["processes"] = 1
        assert records[0] == records[1]


def read_records(job) -> dict:
    """A job's three .hydra records by name, read as YAML, its sweep's directory written as S."""
    import yaml

    return {
        name: yaml.safe_load((job / ".hydra" / name).read_text().replace(str(job.parent), "S"))
        for name in ("config.yaml", "hydra.yaml", "overrides.yaml")
    }


@pytest.mark.slow
def test_a_sweep_in_worker_processes_stopped_by_sigterm_resumes_to_the_sweep_in_one(tmp_path):
    grid = ["optimizer.learning_rate=0.01,0.02,0.03,0.04,0.05,0.06", "trainer.seed=range(6)", "trainer.steps=400",
            *FAST]  # fmt: skip
    directory = tmp_path / "workers"
    sweep = start_trainer("-m", *grid, "hydra.launcher.processes=2", f"hydra.sweep.dir={directory}")
    wait_for(directory, "*/metrics.json", sweep)
    sweep.send_signal(signal.SIGTERM)
    _, stderr = sweep.communicate(timeout=120)

    assert sweep.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.splitlines() == [  # the workers' stopped jobs log theirs
        "trainer: stopped by SIGTERM: each worker's running job stopped as a run stops, at a checkpoint where it "
        "writes them; run the same command to resume"
    ]
    assert 0 < len(list(directory.glob("*/metrics.json"))) < 36
    assert_unlocked(directory)  # no worker left running in the sweep's directory
    _, resumed = run_sweep(directory, *grid, "hydra.launcher.processes=2")
    _, alone = run_sweep(tmp_path / "alone", *grid)
    assert unclocked(resumed) == unclocked(alone) and [row["status"] for row in resumed] == ["ok"] * 36


def test_a_launcher_of_no_worker_processes_is_refused_in_one_line(tmp_path):
    result = run_trainer(
        "-m", "optimizer.learning_rate=0.1,0.3", "hydra.launcher.processes=0", f"hydra.sweep.dir={tmp_path}"
    )

    assert result.returncode == 1
    refusal = "hydra.launcher.processes must be an integer >= 1, or null for one per core; got 0"
    assert result.stderr == f"trainer: {refusal}\n"
    assert not list(tmp_path.glob("*/metrics.json"))


@pytest.mark.slow
def test_optuna_preset_improves_on_its_first_trial_within_twenty(tmp_path):
    result, rows = run_sweep(tmp_path, "hparams_search=scalar")
    assert len(rows) == 20
    distances = [float(row["distance_to_minimum"]) for row in rows]
    assert min(distances) < distances[0] / 100
    assert float(next(row for row in rows if row["best"] == "yes")["distance_to_minimum"]) == min(distances)
    assert "best_value" in (tmp_path / "optimization_results.yaml").read_text()
    assert (tmp_path / "landscape.png").is_file() and not list(tmp_path.glob("*/landscape.png"))  # one, of all


@pytest.mark.slow
def test_mnist_optuna_preset_maximizes_validation_accuracy(tmp_path, fake_mnist):
    result, rows = run_sweep(
        tmp_path / "sweep",
        "experiment=mnist",
        "hparams_search=mnist",
        f"data.path={fake_mnist}",
        "hydra.sweeper.n_trials=3",
    )
    assert len(rows) == 3 and all(row["status"] == "ok" for row in rows)
    ranks = [(-float(row["val_accuracy"]), float(row["test_loss"])) for row in rows]  # ties: the test loss
    assert [row["best"] for row in rows] == ["yes" if rank == min(ranks) else "" for rank in ranks]
    assert "best (maximize val_accuracy, then minimize test_loss): job" in result.stdout
    assert all((tmp_path / "sweep" / row["directory"] / "confusion_matrix.png").is_file() for row in rows)


class JobProbe(Callback):
    """What Hydra's callbacks see of each job: its environment as it starts, what it returned as it ends."""

    seen: list[str] = []

    def on_job_start(self, config, **kwargs):  # Hydra gives it the task function too
        JobProbe.seen.append(f"{config.hydra.job.num} starts in {os.getcwd()}, test={os.getenv('TRAINER_TEST')}")

    def on_job_end(self, config, job_return):  # and this nothing else
        job = job_return
        JobProbe.seen.append(
            f"{config.hydra.job.num} {job.status.name} in {job.working_dir} as {job.task_name}: {job.overrides}, "
            f"{job.hydra_cfg.hydra.runtime.output_dir}, {sorted(job.cfg)}"
        )


def test_the_trainer_launchers_jobs_leave_the_records_and_results_of_hydras_basic_launcher(tmp_path):
    """The trainer launcher sets its jobs up itself (hydra_plugins/trainer/job.py): each job's directory, its
    three .hydra records, log file, metrics and summary row are those of Hydra's basic launcher, a failing job's
    too, and so is what its callbacks see (its working directory and environment, what it returned); each record
    reads back as OmegaConf wrote it."""
    import re

    import yaml
    from omegaconf import OmegaConf

    sweep = ["optimizer=sgd", "model.initial=[5.0],[1,2]", "optimizer.learning_rate=0.1,0.3", "trainer.steps=5", *FAST,
             "+hydra.job.env_set.TRAINER_TEST=1", "hydra.job.chdir=true",
             f"+hydra.callbacks.probe._target_={__name__}.JobProbe"]  # fmt: skip
    JobProbe.seen.clear()  # what an earlier run of this test saw
    _, ours = run_sweep(tmp_path / "ours", *sweep)
    seen = JobProbe.seen.copy()
    _, hydras = run_sweep(tmp_path / "hydras", *sweep, "hydra/launcher=basic")
    assert len(seen) == 8 and [line.replace("ours", "hydras") for line in seen] == JobProbe.seen[len(seen) :]
    directories = [row.pop("directory") for row in ours]
    assert [row.pop("directory") for row in hydras] == directories and directories[0].startswith("0_")
    assert ours == hydras and [row["status"] for row in ours] == ["ok", "ok", "failed", "failed"]

    def records(job) -> dict:
        """The job's files by name and what its records and metrics say; its paths, its times and Hydra's
        settings of the launcher aside."""
        names = sorted(re.sub(r"tfevents\..*", "tfevents", path.relative_to(job).as_posix()) for path in job.rglob("*"))
        read = read_records(job)
        hydra = read["hydra.yaml"]["hydra"]
        del hydra["launcher"], hydra["overrides"]["hydra"], hydra["runtime"]["choices"]["hydra/launcher"]
        metrics = job / "metrics.json"
        numbers = json.loads(metrics.read_text()) if metrics.exists() else {}
        return {"names": names, **read, "metrics": {k: v for k, v in numbers.items() if "seconds" not in k}}

    for job in directories:
        assert records(tmp_path / "ours" / job) == records(tmp_path / "hydras" / job)
        for name in ("config.yaml", "hydra.yaml"):  # libyaml's text reads back as OmegaConf's own writing of it
            path = tmp_path / "ours" / job / ".hydra" / name
            assert yaml.safe_load(OmegaConf.to_yaml(OmegaConf.load(path))) == yaml.safe_load(path.read_text())


def test_ties_on_the_metric_are_broken_by_the_tiebreak_and_the_rest_share_the_mark(tmp_path):
    """23 optimizers on the tutorial quadratic: many end exactly on the minimum. None wins by list order."""
    from trainer.outputs.jobs import Job, best_jobs

    def job(number, distance, objective):
        made = Job(tmp_path, {"distance_to_minimum": distance, "objective": objective, "loss": 2.875}, None)
        made.number = number  # its .hydra record's, which this job has none of
        return made

    jobs = [job(0, 1.5e-8, 2.875), job(1, 0.0, 2.875), job(2, 0.0, 2.8750002), job(3, 0.0, 2.875), job(4, 0.05, 2.88)]
    ranking = [("distance_to_minimum", "minimize"), ("objective", "minimize")]

    assert [j.number for j in best_jobs(jobs, ranking)] == [1, 3]
    assert [j.number for j in best_jobs(jobs, ranking[:1])] == [1, 2, 3]
    assert [j.number for j in best_jobs(jobs, [("loss", "minimize")])] == [0, 1, 2, 3, 4]


def test_many_jobs_in_one_process_do_not_warn_of_retracing(make_config, tmp_path, caplog):
    """The basic launcher runs a sweep's jobs in one process: each traces its own loop once, which
    TensorFlow must not report as excessive retracing of one function."""
    from trainer.train import train

    with caplog.at_level("WARNING", logger="tensorflow"):
        for job, rate in enumerate((0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4)):
            train(
                make_config(
                    f"optimizer.learning_rate={rate}",
                    "trainer.steps=20",
                    "trainer.validation_split=null",
                    f"output_dir={tmp_path / str(job)}",
                )
            )

    assert not [record for record in caplog.records if "retracing" in record.getMessage()]


@pytest.mark.slow
def test_each_job_of_a_sweep_in_one_process_is_what_it_would_be_alone(tmp_path, fake_mnist):
    """The basic launcher runs the jobs in one process: op determinism (which XLA's MaxPool gradient refuses),
    the precision policy and the seeds that one job sets do not reach the next. In either order, each job
    ends as the one that ran first, in a process of its own so far, did."""
    results = {}
    for index, order in enumerate(("true,false", "false,true")):
        overrides = ["experiment=mnist", "model=cnn_2c2d", f"data.path={fake_mnist}", "trainer.steps=2", *FAST]
        run_sweep(tmp_path / str(index), *overrides, f"trainer.deterministic={order}",
                  "trainer.precision=float32,mixed_bfloat16")  # fmt: skip
        for path in (tmp_path / str(index)).glob("*/metrics.json"):
            job = path.parent.name.split(",")
            settings = tuple(part for part in job if part.startswith(("trainer.deterministic", "trainer.precision")))
            results.setdefault(settings, []).append(json.loads(path.read_text()))

    assert len(results) == 4
    for settings, (first, second) in results.items():
        assert first == second, settings


def test_a_jobs_config_composed_once_per_set_of_group_choices_is_hydras_own():
    """The trainer launcher's SweepConfigLoader against Hydra's config loader, on the jobs of one sweep: group
    choices, values, an added key, a value in a chosen config, and a key the job's directory name leaves out."""
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from trainer.config.compose import config_loader
    from trainer.config.sweeps import SweepConfigLoader

    jobs = [
        ["optimizer=adam", "optimizer.learning_rate=0.1", "trainer.steps=7", "data=mnist", "data.path=a/b"],
        ["optimizer=adam", "optimizer.learning_rate=0.3", "trainer.steps=7", "data=mnist", "data.path=a/b"],
        ["optimizer=sgd", "optimizer.momentum=0.5", "+trainer.extra=1", "model=booth", "data=mnist", "data.path=c"],
        ["optimizer=sgd", "optimizer.momentum=0.9", "+trainer.extra=2", "model=booth", "data=mnist", "data.path=c"],
    ]
    with config_loader() as hydras:
        master = hydras.load_configuration("config", ["hydra.sweep.dir=s"], run_mode=RunMode.MULTIRUN)
        ours = SweepConfigLoader(hydras)
        for overrides in jobs:
            want = OmegaConf.to_container(hydras.load_sweep_config(master, overrides))
            got = OmegaConf.to_container(ours.load_sweep_config(master, overrides))
            assert got == want
    assert len(ours.compositions) == 2  # one per set of group choices

    checked = [ours.load_sweep_config(master, overrides) for overrides in jobs]  # the sweeper's check of a batch
    with ours.launching():
        launched = [ours.load_sweep_config(master, overrides) for overrides in jobs]
        again = ours.load_sweep_config(master, jobs[0])  # a job of the batch twice: composed anew
    assert all(config is checked_config for config, checked_config in zip(launched, checked))
    assert again is not launched[0] and OmegaConf.to_container(again) == OmegaConf.to_container(launched[0])
    assert ours.checked == {}


def test_the_multiruns_of_one_command_share_their_compositions_and_each_gets_hydras_own():
    """trainer.compare's multiruns differ in their sweep's directories and in the summary callback: inside
    `shared_compositions`, multiruns that differ only in directories share each set of group choices'
    composition, and each job's config is still what Hydra's loader composes for its multirun, also where
    another line sets a directory again (a job's own, `++`) or a setting is read as Hydra composes (`env_copy`)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from trainer.config import sweeps
    from trainer.config.compose import config_loader
    from trainer.config.sweeps import SweepConfigLoader, shared_compositions

    def subdir(config) -> str:
        previous = HydraConfig.instance().cfg
        HydraConfig.instance().set_config(config)  # as in the job, whose directory name reads hydra:
        try:
            return str(config.hydra.sweep.subdir)
        finally:
            HydraConfig.instance().cfg = previous

    multiruns = [
        ["hydra.sweep.dir=tune", "hydra.sweep.subdir=${hydra:runtime.choices.optimizer}-lr${optimizer.learning_rate}"],
        ["hydra.sweep.dir=seeds", "hydra.sweep.subdir=seed${trainer.seed}", "~hydra.callbacks.summary"],
        ["hydra.sweep.dir=defaults", "hydra.sweep.subdir=default${trainer.seed}", "~hydra.callbacks.summary"],
        [
            "hydra.sweep.dir=d",
            "hydra.sweep.subdir=a",
            "~hydra.callbacks.summary",
            "++hydra.sweep.subdir=b",
            "hydra.job.env_copy=[HOME]",
        ],  # fmt: skip
    ]
    jobs = [
        ["optimizer=adam", "model=booth", "trainer.seed=2"],
        ["optimizer=sgd", "model=booth", "trainer.seed=3", "hydra.sweep.subdir=own", "hydra.job.chdir=true"],
    ]
    with config_loader() as hydras, shared_compositions():
        for hydra_overrides in multiruns:
            master = hydras.load_configuration("config", hydra_overrides, run_mode=RunMode.MULTIRUN)
            ours = SweepConfigLoader(hydras)
            for overrides in jobs:
                want = hydras.load_sweep_config(master, overrides)
                got = ours.load_sweep_config(master, overrides)
                assert OmegaConf.to_container(got) == OmegaConf.to_container(want)
                assert subdir(got) == subdir(want)  # resolved: the job's directory name
        assert len(sweeps.SHARED) == 6  # 8 jobs: each job of the seeds and defaults multiruns shares one (a job's
        # own directory, `hydra.sweep.subdir=own`, is set on the copy)
    assert SweepConfigLoader(hydras).compositions == {}  # outside, a multirun composes its own


def test_a_jobs_setting_is_read_from_its_saved_config_and_resolved_where_interpolated(tmp_path):
    """The comparison reads a setting of thousands of jobs without building their OmegaConf configs."""
    from trainer.outputs.jobs import Job

    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(
        "trainer: {seed: 3, rate: 0.5}\noptimizer: {learning_rate: '${trainer.rate}'}\nmodel: '${trainer}'\n"
    )
    job = Job(tmp_path, {}, None)

    assert job.setting("trainer.seed") == 3 and "config" not in vars(job)  # no OmegaConf config built
    assert job.setting("optimizer.learning_rate") == 0.5 and job.setting("model.seed") == 3
    with pytest.raises(KeyError, match=r"trainer.steps is not in .*config.yaml"):
        job.setting("trainer.steps")
