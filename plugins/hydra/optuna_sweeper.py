"""`hydra/sweeper=optuna` (conf/hydra/sweeper/optuna.yaml, chosen by conf/hparams_search/): Optuna's current
release through its ask-and-tell interface, the study in a journal file or a database (trainer/outputs/study.py).

Each batch asks up to `n_jobs` trials, launches them as sweep jobs under the configured launcher and tells
the study how each ended: its `sweep.metric`, pruned, or failed. The sweep asks while the study holds fewer
than `n_trials` trials that were not lost (trainer/outputs/trials.py), so that every worker sharing the study
(the same command, or the same storage and study name, started anywhere) stops at `n_trials` in all. A new
trial's place among them numbers its job (and so its directory), and with a `sampler.seed` seeds its draws,
so that a search resumed after an interruption draws what it would have drawn without one. A trial cut
short (SIGINT, SIGTERM) is lost and replaced: its parameters run again as the same job, in the same
directory, where its run resumes from its checkpoint. A worker killed outright (SIGKILL) leaves its trial
running in the study: a later command frees it with `hydra.sweeper.release_running=true`, once no worker runs."""

import signal

from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from trainer.config.search import search_space
from trainer.errors import Interrupted
from trainer.loop.signals import StopSignals
from trainer.outputs.study import JOB, check_prunable, open_study, write_results
from trainer.outputs.trials import counted, lose, release_running, tell, waiting


class OptunaSweeper(Sweeper):
    def __init__(self, **settings) -> None:
        self.settings = OmegaConf.create(settings)

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list:
        settings, sweep_dir = self.settings, self.config.hydra.sweep.dir
        check_prunable(self.config)
        space = search_space(OmegaConf.to_container(settings.params or {}), arguments)
        search = {"metric": self.config.sweep.metric, "direction": settings.direction, **space.describe()}
        study = open_study(settings, sweep_dir, search, self.sampler(0), instantiate(settings.pruner))
        if settings.release_running:
            release_running(study)
        OmegaConf.save(self.config, f"{sweep_dir}/multirun.yaml")
        returns = []
        with InterruptingSignals():
            while batch := self.ask(study, space):
                returns += self.run_batch(study, batch)
                write_results(study, sweep_dir)
        write_results(study, sweep_dir)
        return returns

    def sampler(self, place: int):
        """The sampler, its seed moved on by the trial's place; but QMC's, whose points follow the study's
        trials, and whose seed scrambles the whole sequence at once."""
        seed = self.settings.sampler.get("seed")
        if seed is None or self.settings.sampler._target_.endswith("QMCSampler"):
            return instantiate(self.settings.sampler)
        return instantiate(self.settings.sampler, seed=seed + place)

    def ask(self, study, space) -> list[tuple]:
        """Up to `n_jobs` trials as (trial, job, overrides); none once the study has `n_trials`."""
        batch = []
        try:
            while len(batch) < self.settings.n_jobs and (asked := self.ask_one(study)):
                trial, job = asked
                batch.append((trial, job, space.suggest(trial)))  # a replacement's are its fixed parameters
        except BaseException:
            for trial, _, _ in batch:
                lose(study, trial.number, "interrupted")
            raise
        return batch

    def ask_one(self, study) -> tuple | None:
        """A lost trial's replacement and its job, if one waits; else a new trial, numbered by its place among
        the study's trials and drawn by the sampler seeded for it (some samplers draw as the trial is made,
        others as each parameter is suggested); None once the study has n_trials."""
        while (place := counted(study)) < self.settings.n_trials or waiting(study):
            study.sampler = self.sampler(place)
            trial = study.ask()
            if JOB in trial.user_attrs:
                return trial, trial.user_attrs[JOB]
            if place < self.settings.n_trials and counted(study, before=trial.number) == place:
                trial.set_user_attr(JOB, place)
                return trial, place
            lose(study, trial.number, "not run: another worker took its place as it was asked")
        return None

    def run_batch(self, study, batch: list[tuple]) -> list[JobReturn]:
        """Launch the batch's jobs, numbered by their places; tell the study each one's end. Trials that a
        signal or an error leaves unfinished are lost, and replaced: they run again."""
        self.validate_batch_is_legal([overrides for _, _, overrides in batch])
        returns, told = [], 0
        try:
            for start, overrides in consecutive_runs([(job, overrides) for _, job, overrides in batch]):
                returns += self.launcher.launch(overrides, initial_job_idx=start)
                for (trial, _, _), result in zip(batch[told:], returns[told:]):
                    tell(study, trial, result)
                    told += 1
        finally:
            for trial, _, _ in batch[told:]:
                lose(study, trial.number, "interrupted")
        return returns


class InterruptingSignals(StopSignals):
    """SIGINT or SIGTERM outside a run's steps (as a job starts, between jobs) ends the search as Interrupted,
    with the line and status of a stopped run: the trials it cuts short are lost and run again next time.
    Inside a run's steps the run's own handler takes over (trainer/loop/signals.py) and checkpoints first."""

    def _catch(self, signum, frame):
        received = signal.Signals(signum)
        raise Interrupted(
            received,
            f"stopped by {received.name}; the study keeps every trial told: run the same command to continue it",
        )


def consecutive_runs(jobs: list[tuple[int, list[str]]]) -> list[tuple[int, list[list[str]]]]:
    """The batch's (job number, overrides) as launches of consecutive job numbers: (first number, overrides)."""
    runs = []
    for job, overrides in jobs:
        if runs and runs[-1][0] + len(runs[-1][1]) == job:
            runs[-1][1].append(overrides)
        else:
            runs.append((job, [overrides]))
    return runs
