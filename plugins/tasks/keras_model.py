"""What every task of a Keras model trained on data shares (plugins/tasks/classification.py,
plugins/tasks/autoencoder.py), not a task of its own: the report evaluates the test split (test_<metric> in
metrics.json, test/<metric> in TensorBoard at the step reached); the model is compiled with the run's
optimizer and loss and saved as <run dir>/model.keras, so that `keras.models.load_model` gives it back with
the optimizer's state."""

from trainer.files import replacing
from trainer.outputs.events import write_scalars
from trainer.task import Task


class KerasModelTask(Task):
    def report(self, run, loop) -> dict:
        if run.data.test is None:
            return {}
        test = run.evaluate(run.data.test, run.cfg.trainer.eval_batch_size)
        write_scalars({f"test/{name}": value for name, value in test.items()}, loop.done)
        return {f"test_{name}": value for name, value in test.items()}

    def export(self, run) -> None:
        with replacing(run.output_dir / "model.keras") as temporary:
            self.callback_model(run).save(temporary)

    def callback_model(self, run):
        if getattr(run.model, "optimizer", None) is not run.optimizer:
            run.model.compile(optimizer=run.optimizer, loss=run.loss_fn)
        return run.model
