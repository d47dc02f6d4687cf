"""The final report: the last window's train loss and metrics, the steps taken, what the other actions
reported as final numbers (`final/<name>` in the loop's logs: validation, early stopping) and the task's own
numbers (test metrics, a scalar problem's variables), logged as final/<name> scalars (the HParams
dashboard's metric columns) at the step reached, written to metrics.json, and the task's export of the model.
In the last phase: metrics.json marks a run finished."""

from trainer.actions.base import Action
from trainer.loop.run import FINAL
from trainer.outputs.events import write_scalars
from trainer.outputs.metrics import flat_metrics, write_metrics


class Report(Action):
    phase = "report"

    def end(self, run, loop) -> None:
        logs = loop.logs
        results = {
            "loss": logs["train/loss"],
            "steps": loop.done,
            **{name: logs[f"train/{name}"] for name in run.metrics},
            **loop.results(),
            **run.task.report(run, loop),
        }
        if run.runtime.replicas > 1:  # what the global batch (trainer.batch_size) became on each replica
            results["replicas"] = run.runtime.replicas
            if run.batch_size is not None:
                results["per_replica_batch_size"] = run.batch_size // run.runtime.replicas
        write_scalars({FINAL + name: value for name, value in flat_metrics(results).items()}, loop.done)
        for name, value in results.items():  # in metrics.json's order
            logs.pop(FINAL + name, None)
            logs[FINAL + name] = value
        if run.runtime.is_writer:
            run.task.export(run)
            write_metrics(run.output_dir, results)
