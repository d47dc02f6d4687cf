"""The project's Hydra plugins, installed as `hydra_plugins.trainer`, where Hydra looks for plugins; the
commands also register them by hand (trainer/__main__.py), which an editable install needs.

`TrainerLauncher` (conf/hydra/launcher/trainer.yaml, the default of conf/config.yaml) runs a multirun's jobs in
this process, as Hydra's basic launcher does, each job's config composed once per set of group choices
(trainer/config/sweeps.py) for the sweeper's check of the batch and for the job alike, and each job set up as
Hydra sets one up, at half the cost (job.py). Consecutive jobs of one structure (a learning-rate grid, seeds:
`task.population_key` of the command's task function) are trained together, up to `population` at a time
(trainer/loop/population.py); each is still a Hydra job of its own, with its directory, its saved config and
its return value. With `processes` other than 1, a batch's jobs are cut into as many runs of consecutive jobs,
each run by such a launcher in a worker process (trainer/workers.py), side by side.

`OptunaSweeper` (conf/hydra/sweeper/optuna.yaml, chosen by conf/hparams_search/) searches with Optuna, its
study in a journal file or a database (optuna_sweeper.py). `ListSweeper` (conf/hydra/sweeper/list.yaml) runs the
jobs a file lists (list_sweeper.py): the comparison's phases."""

import importlib
import logging
import pickle
import sys
import weakref
from pathlib import Path

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.types import HydraContext
from hydra_plugins.trainer.job import run_job
from hydra_plugins.trainer.list_sweeper import ListSweeper
from hydra_plugins.trainer.optuna_sweeper import OptunaSweeper
from omegaconf import open_dict

from trainer.config.sweeps import SweepConfigLoader
from trainer.errors import ConfigError
from trainer.workers import Workers, check_processes, worker_count

__all__ = ["ListSweeper", "OptunaSweeper", "TrainerLauncher"]

log = logging.getLogger("hydra.launcher.trainer")  # under Hydra's logger, shown as its own lines are


class TrainerLauncher(BasicLauncher):
    def __init__(self, population: int = 1, processes: int | None = 1) -> None:
        super().__init__()
        check_processes(processes, "hydra.launcher.processes")
        self.population, self.processes = population, processes
        self.workers: Workers | None = None  # started for the first batch of several jobs, kept for the next

    def setup(self, *, hydra_context, task_function, config) -> None:
        # the sweeper holds the same context: its check of each batch composes through it too
        if not isinstance(hydra_context.config_loader, SweepConfigLoader):
            hydra_context.config_loader = SweepConfigLoader(hydra_context.config_loader)
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def launch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
        count = worker_count(self.processes, len(job_overrides))
        if count > 1:
            return self.launch_in_workers(job_overrides, initial_job_idx, count)
        with self.hydra_context.config_loader.launching():
            return self.launch_batch(job_overrides, initial_job_idx)

    def launch_in_workers(self, job_overrides, initial_job_idx: int, count: int) -> list[JobReturn]:
        """The batch cut into `count` runs of consecutive jobs (a grid's seeds of one rate, its rates of one
        optimizer: those of one structure mostly meet in a worker), each launched by a launcher of one process in
        a worker process of its own; each worker's config loader composes its jobs anew, as it left the
        sweeper's check of the batch in this process. The workers stay for the sweeper's next batch (an Optuna
        search's), with the programs they built."""
        task = importable(self.task_function)
        loader = self.hydra_context.config_loader
        loader.checked.clear()
        context = HydraContext(config_loader=SweepConfigLoader(loader.loader), callbacks=self.hydra_context.callbacks)
        state = Singleton.get_state()
        del state["omegaconf_resolvers"]  # functions, some of them local: a worker has them from its imports
        pickled = pickle.dumps((state, context, self.config))  # loaded in a worker once its plugins are found
        ends = [len(job_overrides) * index // count for index in range(count + 1)]
        shares = [(pickled, task, self.population, job_overrides[start:end], initial_job_idx + start)
                  for start, end in zip(ends, ends[1:])]  # fmt: skip
        log.info(f"Launching {len(job_overrides)} jobs in {count} worker processes")
        return [job for share in self.started(count).run(launch_share, shares) for job in share]

    def started(self, count: int) -> Workers:
        """`count` worker processes: those of an earlier batch where there were as many, else new ones, closed
        with the launcher, once the multirun is done with it (or as the process ends)."""
        if self.workers is None or len(self.workers) != count:
            if self.workers is not None:
                self.workers.close()
            self.workers = Workers(count, "the sweep", "hydra.launcher.processes")
            weakref.finalize(self, self.workers.close)
        return self.workers

    def launch_batch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
        key_of = getattr(self.task_function, "population_key", None) if self.population > 1 else None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(job_overrides)} jobs locally")
        returns, group, group_key = [], [], None
        for index, overrides in enumerate(job_overrides, initial_job_idx):
            log.info(f"\t#{index} : {' '.join(filter_overrides(overrides))}")
            config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(config):
                config.hydra.job.id = config.hydra.job.num = index
            key = key_of(config) if key_of else None
            if group and (key is None or key != group_key or len(group) == self.population):
                returns += self.run_group(group)
                group = []
            group, group_key = [*group, config], key
            if key is None:
                returns += self.run_group(group)
                group = []
        return returns + (self.run_group(group) if group else [])

    def run_group(self, configs: list) -> list[JobReturn]:
        """The jobs of `configs` (one structure): one run as a job (job.py); several set up as jobs (their
        directories and records), then trained together by the task function's `together`."""
        if len(configs) == 1:
            return [self.run_one(configs[0], self.task_function)]
        returns = [self.run_one(config, lambda cfg: cfg) for config in configs]  # each job's own config, its
        # output_dir resolved as the job sets it up
        cfgs = [job.return_value for job in returns]
        numbers = [config.hydra.job.num for config in configs]
        log.info(f"\t#{numbers[0]} to #{numbers[-1]}: {len(configs)} jobs of one structure trained together")
        for cfg, job in zip(cfgs, returns):
            with open_dict(cfg):
                cfg.output_dir = str(job.hydra_cfg.hydra.runtime.output_dir)
        previous = HydraConfig.instance().cfg
        HydraConfig.instance().set_config(returns[0].hydra_cfg)  # a job's, as the task function finds it in a job
        try:
            values = self.task_function.together(cfgs)
        finally:
            HydraConfig.instance().cfg = previous
        for job, value in zip(returns, values):
            job.return_value, job.status = value, JobStatus.COMPLETED
        return returns

    def run_one(self, config, task_function) -> JobReturn:
        job = run_job(self.hydra_context, task_function, config)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return job


def importable(function) -> tuple[str, str]:
    """(module, name) that a worker imports `function` from: `python -m trainer` runs trainer/__main__.py as
    `__main__`, which a spawned process does not import again, under its own name. A function that cannot be
    imported by name (one defined inside another, a script's own) is refused in one line."""
    module = function.__module__
    if module == "__main__":
        module = getattr(sys.modules["__main__"].__spec__, "name", None)
    if module is None or "<locals>" in function.__qualname__:
        raise ConfigError(
            f"hydra.launcher.processes: worker processes import the task function by name, and "
            f"{function.__qualname__} has none to import; run the command as `python -m`, or set it to 1"
        )
    return module, function.__qualname__


def launch_share(pickled: bytes, task: tuple[str, str], population: int, job_overrides, initial_job_idx: int):
    """In a worker process (trainer/workers.py): the jobs `job_overrides`, numbered from `initial_job_idx`, as a
    launcher of one process runs them, with Hydra's state, context and config (`pickled`) as the sweep's
    process holds them; `task`, the task function's module and name."""
    from hydra.core.plugins import Plugins

    from trainer.config.compose import parse_each_interpolation_once

    task_function = getattr(importlib.import_module(task[0]), task[1])  # it registers the command's resolvers
    parse_each_interpolation_once()  # as the command does (trainer/cli.py)
    Plugins.instance()  # first: finding the plugins imports their modules anew, whose classes the configs name
    state, hydra_context, config = pickle.loads(pickled)
    Singleton._instances.update(state["instances"])  # as Singleton.set_state, but the plugins found already
    launcher = TrainerLauncher(population=population)
    launcher.setup(hydra_context=hydra_context, task_function=task_function, config=config)
    return launcher.launch(job_overrides, initial_job_idx)
