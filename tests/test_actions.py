"""Each action and task on its own, on a real run built by `build_training`, without the command line or
the controller: what it writes, logs and decides. And the controller with a user's own action."""

import json
import math
import signal

import numpy as np
import pytest
import tensorflow as tf
from trainer.plugins.tasks.classification import ClassificationTask
from trainer.plugins.tasks.scalar import ScalarTask

from tests.conftest import read_scalars, read_tensors
from trainer.actions.base import Action
from trainer.actions.checkpoints import Checkpoints
from trainer.actions.divergence import StopOnDivergence
from trainer.actions.histograms import Histograms
from trainer.actions.keras_callbacks import KerasCallbacks
from trainer.actions.pictures import Pictures
from trainer.actions.report import Report
from trainer.actions.train_scalars import TrainScalars
from trainer.actions.validation import Validation
from trainer.errors import ConfigError, Diverged, Interrupted
from trainer.loop.build import build_parts, build_training
from trainer.train import train


@pytest.fixture
def built(make_config, tmp_path):
    """A run built from overrides, its event writer the default one, and a helper to take steps."""
    writers = []

    def build(*overrides):
        run = build_training(make_config(*overrides))
        run.output_dir.mkdir(parents=True, exist_ok=True)
        writer = tf.summary.create_file_writer(str(run.output_dir))
        writer.set_as_default()
        writers.append(writer)
        return run

    yield build
    for writer in writers:
        writer.close()


def take(run, steps: int) -> None:
    run.outputs = run.train_loop(tf.constant(steps, tf.int64))
    run.done = int(run.step.numpy())


def test_divergence_stops_naming_the_step_and_records_the_error(built):
    run = built("optimizer.learning_rate=1e6", "trainer.steps=100")
    take(run, 100)  # the loop breaks at the first non-finite loss
    action = StopOnDivergence()

    with pytest.raises(Diverged, match=rf"the loss became inf at step {run.done}: .*no checkpoint was written"):
        action.step(run)
    assert json.loads((run.output_dir / "metrics.json").read_text())["steps"] == run.done < 100


def test_train_scalars_log_the_window_means_and_restart_them(built):
    run = built("trainer.steps=20", "trainer.log_every=10")
    action = TrainScalars()
    action.begin(run)
    take(run, 10)
    expected = float(run.loss_mean.result())
    action.step(run)
    tf.summary.flush()

    scalars = read_scalars(run.output_dir)
    assert scalars["train/loss"] == [(10, pytest.approx(expected))]
    assert [step for step, _ in scalars["variables/x"]] == [0, 10]  # the path's start, then each point
    assert run.logs["train/loss"] == pytest.approx(expected) and float(run.loss_mean.count) == 0


def test_checkpoints_save_on_cadence_and_stop_on_a_signal(built):
    run = built("trainer.steps=20", "trainer.checkpoint_every=5")
    action = Checkpoints()
    action.begin(run)
    try:
        take(run, 5)
        assert action.due(run)
        action.step(run)
        assert tf.train.latest_checkpoint(str(run.output_dir / "checkpoints")).endswith("ckpt-5")
        take(run, 2)
        assert not action.due(run)
        action.signals.received = signal.SIGTERM
        assert action.due(run)
        with pytest.raises(Interrupted, match=r"stopped by SIGTERM at step 7 of 20; checkpoint .*ckpt-7 written"):
            action.step(run)
    finally:
        action.close()


def test_validation_keeps_the_best_checkpoint_stops_early_and_restores_the_best(built, fake_mnist):
    run = built(
        "experiment=mnist",
        f"data.path={fake_mnist}",
        "trainer.validation_split=0.25",
        "trainer.patience=1",
        "trainer.min_delta=100",
        "trainer.restore_best=true",
    )
    action = Validation()
    action.begin(run)
    assert action.every == run.steps_per_epoch
    take(run, 6)
    action.step(run)
    best_weights = [w.numpy() for w in run.model.trainable_variables]
    take(run, 6)
    action.step(run)  # no improvement of 100: patience is exhausted
    assert run.stop is not None and run.logs["val/loss"] < 10
    action.end(run)

    assert run.results["best_step"] == 6 and run.results["stopped_early_at"] == 12
    assert run.results["tested_weights"] == "best (step 6)"
    for restored, best in zip(run.model.trainable_variables, best_weights):
        np.testing.assert_array_equal(restored.numpy(), best)


def test_histograms_of_weights_and_gradients(built):
    run = built("trainer.steps=4", "logging.histogram_every=2")
    action = Histograms()
    action.begin(run)
    take(run, 2)
    action.step(run)
    tf.summary.flush()

    assert {"weights/x", "gradients/x"} <= set(read_tensors(run.output_dir))


def test_keras_callbacks_get_fits_logs_at_each_epoch_end(built, fake_mnist):
    import keras

    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append((epoch, dict(logs), self.model.optimizer))

    recorder = Recorder()
    run = built("experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=2", "trainer.log_every=3")
    action = KerasCallbacks({"recorder": recorder})
    action.begin(run)
    while run.done < run.total_steps:
        take(run, int(min(action.steps_to_due(run.done), run.total_steps - run.done)))
        if action.due(run):
            action.step(run)
        if run.done % 3 == 0:
            run.loss_mean.reset_state()  # as the train scalars restart their windows
            for metric in run.metrics.values():
                metric.reset_state()

    assert [epoch for epoch, _, _ in recorder.seen] == [0, 1]
    assert all(set(logs) == {"loss", "accuracy"} and optimizer is run.optimizer for _, logs, optimizer in recorder.seen)
    with pytest.raises(ConfigError, match="is not a keras.callbacks.Callback"):
        KerasCallbacks({"bad": object()})


def test_pictures_and_report_end_the_run(built):
    run = built("trainer.steps=10")
    take(run, 10)
    run.logs["train/loss"] = 2.875
    Pictures().end(run)
    Report().end(run)

    metrics = json.loads((run.output_dir / "metrics.json").read_text())
    assert metrics["steps"] == 10 and metrics["variables"]["x"] == pytest.approx(run.model.values()["x"])
    assert (run.output_dir / "landscape.png").read_bytes().startswith(b"\x89PNG")


def test_scalar_task_reports_the_variables_and_refuses_a_keras_model(built, make_config):
    run = built("trainer.steps=10")
    take(run, 10)
    report = ScalarTask().report(run)
    assert report["variables"] == run.model.values() and math.isclose(report["objective"], float(run.model()))
    assert ScalarTask().scalars(run) == {"variables/x": run.model.values()["x"]}

    with pytest.raises(ConfigError, match="task=scalar needs a scalar problem"):
        ScalarTask().check(build_parts(make_config("model=mlp", "loss=sparse_categorical_crossentropy")))


def test_classification_task_tests_and_exports_with_the_optimizer(built, fake_mnist):
    import keras

    run = built("experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=1")
    take(run, run.total_steps)
    task = ClassificationTask()
    report = task.report(run)
    task.export(run)

    assert set(report) == {"test_loss", "test_accuracy"} and 0 <= report["test_accuracy"] <= 1
    restored = keras.models.load_model(run.output_dir / "model.keras")
    assert int(restored.optimizer.iterations.numpy()) == run.total_steps
    assert set(ClassificationTask().pictures(run)) == {"misclassified", "confusion_matrix"}


class CountingAction(Action):
    """A user's own action, from the config: counts its calls every 7 steps."""

    def __init__(self, every: int):
        self.every, self.calls = every, []

    def step(self, run):
        self.calls.append(run.done)
        (run.output_dir / "counted.json").write_text(json.dumps(self.calls))


def test_a_users_action_is_called_at_its_cadence(make_config, tmp_path):
    train(
        make_config(
            "trainer.steps=30",
            "+actions.counting._target_=tests.test_actions.CountingAction",
            "+actions.counting.every=7",
        )
    )

    assert json.loads((tmp_path / "run" / "counted.json").read_text()) == [7, 14, 21, 28, 30]


def test_record_logs_the_config_the_hparams_session_and_the_graph_once(built):
    from trainer.actions.record import Record

    run = built("trainer.steps=10")
    Record().begin(run)
    tf.summary.flush()

    tensors = read_tensors(run.output_dir)
    assert "optimizer:" in tensors["config"][0][1].item().decode()
    assert "_hparams_/session_start_info" in tensors
    assert run.train_loop.experimental_get_tracing_count() == 1  # traced for the graph; the first call reuses it


def test_plateau_counters_are_saved_in_its_state_and_taken_back(built):
    from trainer.actions.plateau import Plateau

    run = built("trainer.steps=40", "trainer.log_every=10", "schedule=reduce_on_plateau", "schedule.patience=5")
    action = Plateau()
    action.begin(run)
    for loss in (3.0, 2.0, 2.5):  # an improvement, then a window without one
        run.done += 10
        run.logs["train/loss"] = loss
        action.step(run)
    assert {name: float(v.numpy()) for name, v in action.state().items()} == {
        "wait": 1,
        "best": 2.0,
        "cooldown_counter": 0,
    }

    resumed = Plateau()
    for name, variable in resumed.state().items():  # as a checkpoint restores them
        variable.assign(action.state()[name])
    resumed.begin(run)
    assert (resumed.callback.wait, resumed.callback.best, resumed.callback.cooldown_counter) == (1, 2.0, 0)
