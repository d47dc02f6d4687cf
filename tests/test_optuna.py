"""Optuna searches (hydra/sweeper=optuna) against real databases: the search space read from Hydra's syntax, a
search killed mid-way and continued, two workers sharing one study (SQLite, and a PostgreSQL server where
Debian's postgresql is installed), pruning on MNIST, and the refusals."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest
import yaml

from tests.conftest import ROOT, read_scalars, run_sweep, run_trainer, wait_for
from trainer.config.search import search_space
from trainer.errors import ConfigError
from trainer.outputs.metrics import read_metrics

SEARCH = ("hparams_search=scalar", "hydra.sweeper.sampler.n_startup_trials=4")  # TPE after 4 random trials


def study_of(sweep_dir: Path, storage: str | None = None, name: str | None = None) -> optuna.Study:
    """The study of a search in `sweep_dir`: by default its journal file, study.log."""
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage or optuna.storages.JournalStorage(JournalFileBackend(str(sweep_dir / "study.log")))
    return optuna.load_study(study_name=name or sweep_dir.name, storage=url)


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]


def start_search(*overrides: str) -> subprocess.Popen:
    """`python -m trainer -m <overrides>` in a process of its own."""
    command = [sys.executable, "-m", "trainer", "-m", *overrides]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_search_space_reads_hydra_sweep_syntax_and_the_command_line_wins():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    params = {
        "optimizer.learning_rate": "tag(log, interval(0.0001, 0.1))",
        "trainer.batch_size": "choice(64, 128)",
        "optimizer.beta_1": "interval(0.8, 0.99)",
    }
    space = search_space(params, ["optimizer=adam", "trainer.batch_size=32,64,256", "trainer.steps=range(10, 41, 10)"])
    assert space.fixed == ["optimizer=adam"]
    assert space.distributions == {
        "optimizer.learning_rate": FloatDistribution(0.0001, 0.1, log=True),
        "trainer.batch_size": CategoricalDistribution((32, 64, 256)),
        "optimizer.beta_1": FloatDistribution(0.8, 0.99),
        "trainer.steps": IntDistribution(10, 40, step=10),
    }
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    overrides = space.suggest(trial)
    assert overrides[0] == "optimizer=adam"
    assert overrides[1:] == [f"{key}={value!r}" for key, value in trial.params.items()]
    # each drawn choice goes back as its own spelling: a shuffled sweep's, and a quoted string's
    assert search_space({}, ["model.x=shuffle(1,2,3,4,5,6)"]).spelled == {"model.x": {n: str(n) for n in range(1, 7)}}
    assert search_space({}, ['model.y=a,"b c"']).spelled == {"model.y": {"a": "a", "b c": '"b c"'}}

    with pytest.raises(ConfigError, match=r"trainer.steps's range is empty"):
        search_space({"trainer.steps": "range(10, 5)"}, [])
    with pytest.raises(ConfigError, match=r"model.initial chooses \[1, 2\]; a choice must be a number"):
        search_space({"model.initial": "choice([1,2],[3,4])"}, [])
    with pytest.raises(ConfigError, match=r"logging.graph chooses 1 and True, which are equal"):
        search_space({"logging.graph": "choice(1, true)"}, [])
    with pytest.raises(ConfigError, match=r"data.path cannot be searched as glob\(\*\); write choice"):
        search_space({}, ["data.path=glob(*)"])


@pytest.mark.slow
def test_search_killed_mid_way_continues_to_n_trials_and_the_uninterrupted_best(tmp_path):
    run_sweep(tmp_path / "whole", *SEARCH, "hydra.sweeper.n_trials=10")
    interrupted = tmp_path / "interrupted"
    search = start_search(*SEARCH, "hydra.sweeper.n_trials=10", f"hydra.sweep.dir={interrupted}")
    wait_for(interrupted, "6_*", search)  # the 7th trial under way
    search.send_signal(signal.SIGTERM)
    _, stderr = search.communicate(timeout=120)
    assert search.returncode == 128 + signal.SIGTERM, stderr
    assert "run the same command to continue it" in stderr or "run the same command to resume" in stderr

    run_sweep(interrupted, *SEARCH, "hydra.sweeper.n_trials=10")

    whole, resumed = study_of(tmp_path / "whole"), study_of(interrupted)
    assert len(finished(resumed)) == 10 and len(resumed.trials) == 11  # the one cut short, marked lost
    (lost,) = [trial for trial in resumed.trials if trial.state == optuna.trial.TrialState.FAIL]
    assert lost.user_attrs["lost"] == "interrupted"
    by_job = {trial.user_attrs["job"]: trial.params for trial in finished(resumed)}
    assert by_job == {trial.user_attrs["job"]: trial.params for trial in finished(whole)}  # the same draws
    best = {
        "best_job": whole.best_trial.user_attrs["job"],
        "best_params": whole.best_params,
        "best_value": whole.best_value,
    }
    for directory in (tmp_path / "whole", interrupted):
        results = yaml.safe_load((directory / "optimization_results.yaml").read_text())
        assert {key: results[key] for key in best} == best
    jobs = sorted(int(path.name.split("_")[0]) for path in interrupted.glob("*_hparams_search=*"))
    assert jobs == list(range(10))  # the trial cut short ran again in its own directory


@pytest.mark.slow
def test_a_search_launching_two_trials_at_once_runs_them_in_two_workers_started_once(tmp_path):
    parallel = ["hydra.sweeper.n_jobs=2", "hydra.launcher.processes=2", "trainer.steps=20"]
    _, rows = run_sweep(tmp_path, *SEARCH, "hydra.sweeper.n_trials=6", *parallel)

    assert [row["status"] for row in rows] == ["ok"] * 6 and len(finished(study_of(tmp_path))) == 6
    owners = {int((tmp_path / row["directory"] / ".lock").read_text()) for row in rows}
    assert len(owners) == 2 and os.getpid() not in owners  # the same two for the three batches
    for pid in owners:  # closed with the multirun
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_trial_left_running_by_a_killed_worker_runs_again_as_its_job_with_release_running(tmp_path):
    run_sweep(tmp_path, *SEARCH, "hydra.sweeper.n_trials=3", "trainer.steps=5")
    study = study_of(tmp_path)
    stuck = study.ask()  # as a worker killed outright (SIGKILL) leaves its trial: running, its job begun
    stuck.set_user_attr("job", 3)
    stuck.suggest_float("optimizer.learning_rate", 0.0001, 0.45, log=True)

    run_sweep(tmp_path, *SEARCH, "hydra.sweeper.n_trials=5", "trainer.steps=5", "hydra.sweeper.release_running=true")

    study = study_of(tmp_path)
    lost = study.trials[stuck.number]
    assert lost.state.name == "FAIL" and lost.user_attrs["lost"].startswith("left running by a killed worker")
    done = {trial.user_attrs["job"]: trial for trial in finished(study)}
    assert sorted(done) == [0, 1, 2, 3, 4]
    assert done[3].params == lost.params and done[3].number > stuck.number  # its parameters, run again
    (job_dir,) = tmp_path.glob("3_*")
    assert read_metrics(job_dir)["distance_to_minimum"] == done[3].value


@pytest.fixture(scope="module")
def postgres() -> str:
    """A PostgreSQL server of Debian's postgresql package, started for these tests in a directory of their own
    on a free port of 127.0.0.1 (as the postgres user where the tests run as root); its URL."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")]
    if not binaries[-1]:
        if os.environ.get("TRAINER_POSTGRES_TESTS") == "required":
            pytest.fail("TRAINER_POSTGRES_TESTS=required, but PostgreSQL's initdb is not installed")
        pytest.skip("needs Debian's postgresql package (apt install postgresql)")
    bin_dir = Path(binaries[-1]).parent
    data = Path(tempfile.mkdtemp(prefix="trainer-postgres-"))  # under /tmp: the postgres user must reach it
    as_owner = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(data, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run([*as_owner, bin_dir / "initdb", "-D", data / "db", "-U", "trainer", "--auth=trust"], **quiet)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [*as_owner, bin_dir / "pg_ctl", "-D", data / "db", "-o", options, "-l", data / "log", "-w", "start"], **quiet
    )
    yield f"postgresql+psycopg://trainer@127.0.0.1:{port}/postgres"
    subprocess.run([*as_owner, bin_dir / "pg_ctl", "-D", data / "db", "-m", "immediate", "stop"], **quiet)
    shutil.rmtree(data, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("database", ["journal", "postgresql"])
def test_two_workers_share_one_study_and_run_n_trials_in_all_none_twice(database, tmp_path, request):
    if database == "journal":  # the default: study.log in the sweep directory both workers name
        storage, sweep_dirs = None, [tmp_path / "search"] * 2
        shared = []
    else:  # a server, as for workers on two machines, each with its own sweep directory
        storage, sweep_dirs = request.getfixturevalue("postgres"), [tmp_path / "a", tmp_path / "b"]
        shared = [f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=shared"]
    workers = [start_search(*SEARCH, "hydra.sweeper.n_trials=8", *shared, f"hydra.sweep.dir={d}") for d in sweep_dirs]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err for _, err in outputs]
    launched = [out.count("Launching 1 jobs") for out, _ in outputs]
    assert sum(launched) == 8 and min(launched) >= 1  # both worked, and no trial ran twice

    study = study_of(sweep_dirs[0], storage, "shared" if storage else None)
    trials = finished(study)
    assert sorted(trial.user_attrs["job"] for trial in trials) == list(range(8))
    assert len({trial.params["optimizer.learning_rate"] for trial in trials}) == 8
    jobs = sorted(path.name.split("_")[0] for d in set(sweep_dirs) for path in d.glob("*_hparams_search=*"))
    assert jobs == sorted(str(n) for n in range(8))
    for trial in trials:  # each value told is its own run's
        (job_dir,) = [p for d in set(sweep_dirs) for p in d.glob(f"{trial.user_attrs['job']}_hparams_search=*")]
        assert trial.value == pytest.approx(read_metrics(job_dir)["distance_to_minimum"], rel=1e-6, abs=1e-12)


@pytest.mark.slow
def test_median_pruner_prunes_mnist_trials_that_are_pruned_runs(tmp_path, fake_mnist):
    result, rows = run_sweep(
        tmp_path,
        "experiment=mnist",
        "hparams_search=mnist",
        f"data.path={fake_mnist}",
        "hydra.sweeper.n_trials=8",
        "trainer.eval_every=2",
        "logging.pictures=false",
    )
    pruned = [row for row in rows if row["status"] == "pruned"]
    assert pruned and all(row["best"] == "" for row in pruned)
    study = study_of(tmp_path)
    states = {trial.user_attrs["job"]: trial.state.name for trial in study.trials}
    assert {int(row["job"]) for row in pruned} == {job for job, state in states.items() if state == "PRUNED"}
    for row in pruned:
        metrics = read_metrics(tmp_path / row["directory"])
        assert metrics["pruned_at"] == metrics["steps"] < 14  # 14 steps: one epoch of 922 examples at 64
        assert read_scalars(tmp_path / row["directory"])["final/pruned_at"] == [(metrics["steps"], metrics["steps"])]

    best = study.best_trial
    best_dir = next(tmp_path.glob(f"{best.user_attrs['job']}_*"))
    assert best.value == read_metrics(best_dir)["val_accuracy"]
    assert {float(row["val_accuracy"]) for row in rows if row["best"] == "yes"} == {best.value}  # the summary's too


def test_a_search_refuses_another_search_in_its_directory_a_pruner_without_reports_and_a_bad_database(tmp_path):
    run_sweep(tmp_path, *SEARCH, "hydra.sweeper.n_trials=2", "trainer.steps=5")
    other = run_trainer("-m", *SEARCH, "hydra.sweeper.n_trials=2", "trainer.steps=6", f"hydra.sweep.dir={tmp_path}")
    assert other.returncode == 1
    (line,) = other.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"trainer: study '{tmp_path.name}' in {tmp_path}/study.log was made for another search")
    assert "trainer.steps=5" in line and "trainer.steps=6" in line
    assert len(finished(study_of(tmp_path))) == 2  # untouched

    pruned = run_trainer("-m", *SEARCH, "hydra/sweeper/pruner=median", f"hydra.sweep.dir={tmp_path / 'c'}")
    assert pruned.returncode == 1
    assert pruned.stderr.strip().splitlines()[-1] == (
        "trainer: hydra.sweeper.pruner needs sweep.metric measured during the run: val_<name> (with "
        "trainer.validation_split), loss or a name in metrics; got distance_to_minimum"
    )

    for storage, reason in (
        ("sqlite:////nonexistent/dir/study.db", "database sqlite:////nonexistent/dir/study.db: "),
        ("/nonexistent/dir/study.log", "journal /nonexistent/dir/study.log: No such file or directory"),
    ):
        unreachable = run_trainer(
            "-m", *SEARCH, f"hydra.sweeper.storage={storage}", f"hydra.sweep.dir={tmp_path / 'b'}"
        )
        assert unreachable.returncode == 1
        (line,) = unreachable.stderr.strip().splitlines()[-1:]
        assert line.startswith(f"trainer: hydra.sweeper.storage: cannot open the study's {reason}")


def test_a_search_continues_the_study_db_an_earlier_version_left_in_its_directory(tmp_path):
    database = f"sqlite:///{tmp_path / 'study.db'}"  # where searches kept their study before the journal
    run_sweep(tmp_path, *SEARCH, "hydra.sweeper.n_trials=2", "trainer.steps=5", f"hydra.sweeper.storage={database}")
    run_sweep(tmp_path, *SEARCH, "hydra.sweeper.n_trials=3", "trainer.steps=5")
    assert len(finished(study_of(tmp_path, database))) == 3
    assert not (tmp_path / "study.log").exists()
