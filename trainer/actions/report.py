"""The final report: the last window's train loss and metrics, the steps taken, what the other actions
reported as final numbers (`final/<name>` in the loop's logs: validation, early stopping) and the task's own
numbers (test metrics, a scalar problem's variables), with the optimizer state's bytes per parameter, logged
as final/<name> scalars (the HParams dashboard's metric columns) at the step reached, written to
metrics.json, and the task's export of the model (unless logging.export=false). In the last phase:
metrics.json marks a run finished."""

import numpy as np

from trainer.actions.base import Action
from trainer.loop.reuse import variable_bytes
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
            "state_bytes_per_parameter": state_bytes_per_parameter(run),
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
            if run.cfg.logging.export:
                run.task.export(run)
            write_metrics(run.output_dir, results)


def state_bytes_per_parameter(run) -> float:
    """The optimizer's state (its slots and any state of its own, not its step count and learning rate) in
    bytes per trained parameter: 8 for Adam's two float32 moments, 0 for plain SGD."""
    kept = [v for v in run.optimizer.variables if v.name not in ("iteration", "learning_rate")]
    parameters = sum(int(np.prod(v.shape)) for v in run.model.trainable_variables)
    return sum(map(variable_bytes, kept)) / max(parameters, 1)
