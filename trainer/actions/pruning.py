"""Pruning, for a run that is a trial of an Optuna search (hydra/sweeper=optuna, conf/hparams_search/): at
each validation pass (for `sweep.metric` val_<name>), or each log point (for a train metric such as loss), it
reports the metric to the trial in the study's storage, and stops the run where the study's pruner says so
(the sweeper refuses a pruner where the metric is known only at the end: trainer/outputs/study.py). A pruned
run ends as an early-stopped one does (final weights, test, export) and records `pruned_at` (the step) in
metrics.json and as final/pruned_at; the sweeper tells the study it was pruned. Outside a search, and in a
multi-worker run, it does nothing."""

import logging

from trainer.actions.base import Action
from trainer.loop.run import FINAL

log = logging.getLogger("trainer.train")


class Pruning(Action):
    trial = None  # the Optuna trial this run is, where it is one
    pruned_at = None

    def begin(self, run, loop) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from trainer.outputs.study import SWEEPER, job_trial, reported_tag

        hydra = HydraConfig.get() if HydraConfig.initialized() else None
        if hydra is None or hydra.mode != RunMode.MULTIRUN or hydra.sweeper.get("_target_") != SWEEPER:
            return
        if run.runtime.in_cluster:  # each worker would ask the pruner on its own, and might not agree
            log.info("a multi-worker run reports no intermediate values to its Optuna trial, and is not pruned")
            return
        self.tag = reported_tag(run.cfg)
        if self.tag is not None:  # else the metric is known only at the end: nothing to report
            self.every = run.eval_every if self.tag.startswith("val/") else run.cfg.trainer.log_every
            self.trial = job_trial(hydra)

    def due(self, run, loop) -> bool:
        return self.trial is not None and self.tag in loop.logs and super().due(run, loop)

    def act(self, run, loop) -> str | None:
        self.trial.report(float(loop.logs[self.tag]), loop.done)
        if loop.done >= run.total_steps or not self.trial.should_prune():
            return None
        self.pruned_at = loop.done
        pruner = type(self.trial.study.pruner).__name__
        log.info("pruned at step %d by %s: %s=%.6g", loop.done, pruner, self.tag, loop.logs[self.tag])
        return f"pruned by Optuna's {pruner}"

    def end(self, run, loop) -> None:
        if self.pruned_at is not None:
            loop.logs[FINAL + "pruned_at"] = self.pruned_at
