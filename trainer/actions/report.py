"""The final report: the last window's train loss and metrics, the steps taken, what the other actions put in
`run.results` (validation, early stopping) and the task's own numbers (test metrics, a scalar problem's
variables), logged as final/<name> scalars (the HParams dashboard's metric columns) at the step reached,
written to metrics.json, and the task's export of the model. Listed last: metrics.json marks a run finished."""

import tensorflow as tf

from trainer.actions.base import Action
from trainer.outputs.hparams import FINAL
from trainer.outputs.metrics import flat_metrics, write_metrics


class Report(Action):
    def end(self, run) -> None:
        results = {
            "loss": run.logs["train/loss"],
            "steps": run.done,
            **{name: run.logs[f"train/{name}"] for name in run.metrics},
            **run.results,
        }
        results.update(run.task.report(run))
        if run.runtime.replicas > 1:  # what the global batch (trainer.batch_size) became on each replica
            results["replicas"] = run.runtime.replicas
            if run.batch_size is not None:
                results["per_replica_batch_size"] = run.batch_size // run.runtime.replicas
        for name, value in flat_metrics(results).items():
            tf.summary.scalar(FINAL + name, value, step=run.done)
        run.results = results
        if run.runtime.is_writer:
            run.task.export(run)
            write_metrics(run.output_dir, results)
