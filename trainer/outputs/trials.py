"""The trials of an Optuna search's study as the sweeper (plugins/hydra/optuna_sweeper.py) keeps them: each
trial that runs has a job number (its `job` user attribute, its job's hydra.job.num and directory), and one
that did not run to its end is lost (its `lost` attribute says why): failed, not counted towards n_trials,
and replaced by a waiting trial with its parameters and job, which the next `ask` of any worker takes, so
that it runs again, in the same directory, where its run resumes from its checkpoint."""

import logging
import math

from trainer.outputs.study import JOB

log = logging.getLogger(__name__)
LOST = "lost"  # the user attribute of a trial that did not run to its end, and why


def counted(study, before: int | None = None) -> int:
    """The study's trials that hold a place among n_trials (all but the lost: waiting replacements too),
    those numbered below `before` only."""
    trials = study.get_trials(deepcopy=False)
    return sum(LOST not in t.user_attrs and (before is None or t.number < before) for t in trials)


def waiting(study) -> bool:
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def lose(study, number: int, reason: str) -> None:
    """Mark the unfinished trial `number` failed and lost; one that had a job is replaced (its parameters,
    its job) by a waiting trial."""
    from optuna.trial import TrialState

    (frozen,) = [trial for trial in study.get_trials(deepcopy=False) if trial.number == number]
    if frozen.state.is_finished():
        return
    study._storage.set_trial_user_attr(frozen._trial_id, LOST, reason)  # Optuna has no public way to
    # annotate a trial by number from outside its Trial object
    study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    if JOB in frozen.user_attrs:
        study.enqueue_trial(frozen.params, user_attrs={JOB: frozen.user_attrs[JOB]})


def release_running(study) -> None:
    """Lose every running trial of the study, so that each runs again: those of workers killed outright,
    which no live worker will tell."""
    from optuna.trial import TrialState

    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        log.info("trial %d (job %s) was left running: it runs again", frozen.number, frozen.user_attrs.get(JOB))
        lose(study, frozen.number, "left running by a killed worker (hydra.sweeper.release_running)")


def tell(study, trial, result) -> None:
    """Tell the study how the trial's job (its Hydra JobReturn, `result`) ended: pruned (its metrics.json
    says where), failed (a job that raised, or a value that is not finite: a diverged run; it counts) or
    complete with the value it returned. A job cut short by a signal as it started raises it again."""
    from hydra.core.utils import JobStatus
    from optuna.trial import TrialState

    from trainer.errors import Interrupted
    from trainer.outputs.metrics import read_metrics

    if isinstance(result._return_value, Interrupted):
        raise result._return_value
    metrics = read_metrics(result.hydra_cfg.hydra.runtime.output_dir) or {}
    value = result.return_value if result.status == JobStatus.COMPLETED else math.nan
    if "pruned_at" in metrics:
        study.tell(trial, state=TrialState.PRUNED)
    elif isinstance(value, (int, float)) and math.isfinite(value):
        study.tell(trial, float(value))
    else:
        trial.set_user_attr("error", metrics.get("error") or f"it returned {value!r}, not a number")
        study.tell(trial, state=TrialState.FAIL)
