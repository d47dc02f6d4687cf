"""`hydra/sweeper=optuna` (conf/hydra/sweeper/optuna.yaml, chosen by conf/hparams_search/): Optuna's current
release through its ask-and-tell interface, the study in a database (trainer/outputs/study.py).

Each batch asks up to `n_jobs` trials, launches them as sweep jobs under the configured launcher and tells
the study how each ended: its `sweep.metric`, pruned, or failed. A study counts its trials that did not fail;
the sweep asks while they are fewer than `n_trials`, so that every worker sharing the study (the same command,
or the same storage and study name, started anywhere) stops at `n_trials` in all. A trial's place among them,
its slot, numbers its job (and so its directory), and with a `sampler.seed` seeds its draws: a trial that an
interrupted sweep lost (SIGINT, SIGTERM: it is marked failed) is drawn again, with the same parameters, into
the same directory, where its run resumes from its checkpoint; so a resumed search ends as an uninterrupted
one. A worker killed outright (SIGKILL) leaves its trial running in the study: a later command frees it with
`hydra.sweeper.release_running=true`, once no worker runs."""

import contextlib
import logging
import signal
import threading

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from trainer.errors import Interrupted

log = logging.getLogger(__name__)
LOST = "lost"  # the user attribute of a failed trial that did not run to its end, and why: it does not count


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
        from trainer.config.search import search_space
        from trainer.outputs.study import check_prunable, open_study, write_results

        settings, sweep_dir = self.settings, self.config.hydra.sweep.dir
        check_prunable(self.config)
        space = search_space(OmegaConf.to_container(settings.params or {}), arguments)
        search = {"metric": self.config.sweep.metric, "direction": settings.direction, **space.describe()}
        study = open_study(settings, sweep_dir, search, self.sampler(0), instantiate(settings.pruner))
        if settings.release_running:
            release_running(study)
        OmegaConf.save(self.config, f"{sweep_dir}/multirun.yaml")
        returns = []
        with signals_interrupt():
            while batch := self.ask(study, space):
                returns += self.run_batch(study, batch)
                write_results(study, sweep_dir)
        write_results(study, sweep_dir)
        return returns

    def sampler(self, slot: int):
        seed = self.settings.sampler.get("seed")
        return instantiate(self.settings.sampler, **({} if seed is None else {"seed": seed + slot}))

    def ask(self, study, space) -> list[tuple]:
        """Up to `n_jobs` new trials as (trial, slot, overrides); none once the study has `n_trials`."""
        from trainer.outputs.study import JOB

        batch = []
        for _ in range(self.settings.n_jobs):
            trial, slot = self.ask_one(study)
            if trial is None:
                break
            trial.set_user_attr(JOB, slot)
            batch.append((trial, slot, space.suggest(trial)))
        return batch

    def ask_one(self, study) -> tuple:
        """A new trial and its slot, drawn by the sampler seeded for that slot (some samplers draw as the
        trial is made, others as each parameter is suggested); (None, None) once the study has n_trials."""
        while (slot := counted(study)) < self.settings.n_trials:
            study.sampler = self.sampler(slot)
            trial = study.ask()
            if counted(study, before=trial.number) == slot:
                return trial, slot
            lose(study, trial, "not run: another worker took its slot as it was drawn; drawn again")
        return None, None

    def run_batch(self, study, batch: list[tuple]) -> list[JobReturn]:
        """Launch the batch's jobs, numbered by their slots; tell the study each one's end. Trials a signal or
        an error leaves unfinished are marked failed (interrupted): the next run of the command draws them again."""
        self.validate_batch_is_legal([overrides for _, _, overrides in batch])
        returns, told = [], 0
        try:
            for start, overrides in consecutive_runs([(slot, overrides) for _, slot, overrides in batch]):
                returns += self.launcher.launch(overrides, initial_job_idx=start)
                for (trial, _, _), result in zip(batch[told:], returns[told:]):
                    tell(study, trial, result)
                told = len(returns)
        finally:
            for trial, _, _ in batch[told:]:
                lose(study, trial, "interrupted")
        return returns


@contextlib.contextmanager
def signals_interrupt():
    """SIGTERM outside a run's steps (as a job starts, between jobs) ends the sweep as Interrupted, as SIGINT
    does with KeyboardInterrupt, rather than at once: the trials it cuts short are marked lost. Inside a run's
    steps, the run's own handler takes over (trainer/loop/signals.py) and checkpoints first."""

    def interrupt(signum, frame):
        raise Interrupted(
            signal.SIGTERM, "stopped by SIGTERM; the study keeps every trial told: run the same command to continue it"
        )

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def consecutive_runs(slots: list[tuple[int, list[str]]]) -> list[tuple[int, list[list[str]]]]:
    """The batch's jobs as launches of consecutive job numbers: (first number, the jobs' overrides)."""
    runs = []
    for slot, overrides in slots:
        if runs and runs[-1][0] + len(runs[-1][1]) == slot:
            runs[-1][1].append(overrides)
        else:
            runs.append((slot, [overrides]))
    return runs


def counted(study, before: int | None = None) -> int:
    """The study's trials that count towards n_trials (all but the lost ones), those numbered below `before` only."""
    trials = study.get_trials(deepcopy=False)
    return sum(LOST not in t.user_attrs and (before is None or t.number < before) for t in trials)


def lose(study, trial, reason: str) -> None:
    """End a trial that did not run to its end as failed and lost: it does not count, and is drawn again."""
    from optuna.trial import TrialState

    study._storage.set_trial_user_attr(trial._trial_id, LOST, reason)
    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)


def tell(study, trial, result: JobReturn) -> None:
    """Tell the study how the trial's job ended: pruned (its metrics.json says where), failed (a job that
    raised, or a value that is not finite, with its error) or complete with the value it returned."""
    import math

    from optuna.trial import TrialState

    from trainer.outputs.metrics import read_metrics

    if isinstance(result._return_value, Interrupted):  # a signal as the job started: it did not end
        raise result._return_value
    metrics = read_metrics(result.hydra_cfg.hydra.runtime.output_dir) or {}
    value = result.return_value if result.status == JobStatus.COMPLETED else math.nan
    if "pruned_at" in metrics:
        study.tell(trial, state=TrialState.PRUNED)
    elif isinstance(value, (int, float)) and math.isfinite(value):
        study.tell(trial, float(value))
    else:
        error = metrics.get("error") or f"it returned {value!r}, not a number"
        trial.set_user_attr("error", error)
        study.tell(trial, state=TrialState.FAIL)


def release_running(study) -> None:
    """Mark every running trial of the study failed, so that they are drawn again: those of workers killed
    outright, which no live worker will tell."""
    from optuna.trial import TrialState

    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        log.info(
            "trial %d (job %s) was left running: marked lost, to run again", frozen.number, frozen.user_attrs.get("job")
        )
        lose(study, frozen, "left running by a killed worker (hydra.sweeper.release_running)")
