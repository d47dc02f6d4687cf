"""An Optuna search's study, as the sweeper (plugins/hydra/optuna_sweeper.py) and the trials' own runs
(trainer/actions/pruning.py) reach it: by default Optuna's journal file, `study.log`, in the sweep directory,
named after that directory; else the journal file or database URL of `hydra.sweeper.storage`, shared by every
worker that names it. A study remembers the search it was made for, and refuses another.

A journal is a file of appended records, locked while one is written, that Optuna reads back: opening one and
running 20 trials' asks and tells takes 0.03 s, where an SQLite database took 0.65 s (importing SQLAlchemy, its schema
check and a transaction per call), an eighth of `hparams_search=scalar`. A directory holding the `study.db` of
an earlier version of this sweeper, and no journal, continues that database."""

import functools
import json
import time
import warnings
from pathlib import Path

from omegaconf import DictConfig

from trainer.errors import ConfigError

SWEEPER = "hydra_plugins.trainer.optuna_sweeper.OptunaSweeper"  # conf/hydra/sweeper/optuna.yaml's _target_
JOB = "job"  # the user attribute of a trial that holds its job's number, hydra.job.num
SEARCH = "search"  # the user attribute of a study that records its search space and direction


def storage_url(sweeper: DictConfig, sweep_dir) -> str:
    """`hydra.sweeper.storage`, else the sweep directory's journal (or the database an earlier version made)."""
    if sweeper.storage:
        return sweeper.storage
    directory = Path(sweep_dir).absolute()
    if (directory / "study.db").exists() and not (directory / "study.log").exists():
        return f"sqlite:///{directory / 'study.db'}"
    return str(directory / "study.log")


def study_name(sweeper: DictConfig, sweep_dir) -> str:
    return sweeper.study_name or Path(sweep_dir).absolute().name


def storage(url: str):
    """Optuna's storage of `url`: a journal file where it is a path, else a database. A journal is opened anew
    each time (it reads the file's records back, milliseconds), so that a file removed and made again is read as
    it is now."""
    if "://" in url:
        return database(url)
    import optuna
    from optuna.storages.journal import JournalFileBackend

    try:
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"hydra.sweeper.storage: cannot open the study's journal {url}: {reason}") from None


@functools.cache  # one engine per database and process: the sweeper's and its in-process jobs' own
def database(url: str):
    """Optuna's storage of the database at `url`."""
    import optuna
    import sqlalchemy

    for attempt in range(3):
        try:
            opened = optuna.storages.RDBStorage(url, engine_kwargs=engine_options(url))
            break
        except Exception as error:  # SQLAlchemy's and the drivers' many kinds: a bad URL, a server not there
            racing = ("already exists", "UNIQUE constraint failed", "database is locked")  # another worker
            if attempt < 2 and any(words in str(error) for words in racing):  # made the tables as this one did
                time.sleep(1)
                continue
            reason = " ".join(str(error).split())[:300]
            raise ConfigError(f"hydra.sweeper.storage: cannot open the study's database {url}: {reason}") from None
    if url.startswith("sqlite"):
        sqlalchemy.event.listen(opened.engine, "connect", write_ahead)
        opened.engine.dispose()  # the connections opened so far, without it
    return opened


def write_ahead(connection, record) -> None:
    """SQLite's write-ahead log: readers and a writer at once (the workers of a study), and a commit without
    waiting for the disk, which stays consistent across a crash of the process."""
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")


def engine_options(url: str) -> dict:
    # SQLite: workers that write at once wait for each other (up to a minute) rather than fail
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}


def open_study(sweeper: DictConfig, sweep_dir, search: dict, sampler, pruner):
    """The sweep's study, created on the first run and continued by every later one with the same `search`
    (its space and direction); one made for another search is refused in one line."""
    import optuna

    url, name = storage_url(sweeper, sweep_dir), study_name(sweeper, sweep_dir)
    study = optuna.create_study(
        storage=storage(url),
        study_name=name,
        direction=search["direction"],
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    recorded = study.user_attrs.get(SEARCH)
    if recorded is None:
        study.set_user_attr(SEARCH, search)
        with warnings.catch_warnings():  # experimental since Optuna 3.2, and still so named
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([search["metric"]])  # what optuna-dashboard calls the value
    elif json.dumps(recorded, sort_keys=True) != json.dumps(search, sort_keys=True):
        raise ConfigError(
            f"study {name!r} in {url} was made for another search ({describe(recorded)}, now {describe(search)}); "
            "run its own command to continue it, or start a new one with another hydra.sweep.dir or "
            "hydra.sweeper.study_name"
        )
    return study


def describe(search: dict) -> str:
    fixed = " ".join(search["fixed"]) or "nothing"
    return f"{search['direction']} {search['metric']} over {json.dumps(search['params'])}, fixed {fixed}"


def check_prunable(cfg: DictConfig) -> None:
    """Refuse a pruner where the trials' `sweep.metric` is known only at their end (a scalar problem's
    distance to its minimum): there would be nothing to prune on."""
    if cfg.hydra.sweeper.pruner._target_ != "optuna.pruners.NopPruner" and reported_tag(cfg) is None:
        raise ConfigError(
            f"hydra.sweeper.pruner needs sweep.metric measured during the run: val_<name> (with "
            f"trainer.validation_split), loss or a name in metrics; got {cfg.sweep.metric}"
        )


def reported_tag(cfg: DictConfig) -> str | None:
    """The logged tag that holds a run's `sweep.metric` while it runs, which its trial reports: val/<name>
    where it validates, train/<name> for its loss or a metric; None where it is known only at the end."""
    metric = cfg.sweep.metric
    if metric.startswith("val_"):
        return f"val/{metric.removeprefix('val_')}" if cfg.trainer.validation_split is not None else None
    return f"train/{metric}" if metric in ("loss", *cfg.metrics) else None


def job_trial(hydra: DictConfig):
    """The running Optuna trial that a job of an Optuna search (its Hydra config, `hydra`) runs, or None where
    the study has none for it."""
    import optuna
    from hydra.utils import instantiate

    study = optuna.load_study(
        study_name=study_name(hydra.sweeper, hydra.sweep.dir),
        storage=storage(storage_url(hydra.sweeper, hydra.sweep.dir)),
        pruner=instantiate(hydra.sweeper.pruner),
    )
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    mine = [trial for trial in running if trial.user_attrs.get(JOB) == hydra.job.num]  # the latest, where a
    # lost trial of the job's is left running (a worker killed outright)
    return optuna.trial.Trial(study, mine[-1]._trial_id) if mine else None


def write_results(study, sweep_dir) -> None:
    """`optimization_results.yaml` in the sweep directory: the best trial's parameters and value so far."""
    import yaml

    from trainer.files import write_atomically

    try:
        best = study.best_trial
    except ValueError:  # no trial finished
        return
    results = {
        "name": "optuna",
        "study": study.study_name,
        "best_trial": best.number,
        "best_job": best.user_attrs.get(JOB),
        "best_params": best.params,
        "best_value": best.value,
    }
    write_atomically(Path(sweep_dir) / "optimization_results.yaml", yaml.safe_dump(results, sort_keys=False))
