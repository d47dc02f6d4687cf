"""Each action and task on its own, on a real run built by `build_training` and its loop's state, without the
command line or the controller: what it writes, logs and decides. And the controller: the phases' order, the
signals it owns, a user's own action."""

import dataclasses
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
from trainer.loop.run import Loop
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
        return run, Loop.of(run)

    yield build
    for writer in writers:
        writer.close()


def take(run, loop, steps: int) -> None:
    loop.outputs = run.train_loop(tf.constant(steps, tf.int64))
    loop.done = int(run.global_step.numpy())


def test_divergence_stops_naming_the_step_and_records_the_error(built):
    run, loop = built("optimizer.learning_rate=1e6", "trainer.steps=100")
    take(run, loop, 100)  # the loop breaks at the first non-finite loss
    action = StopOnDivergence()

    with pytest.raises(Diverged, match=rf"the loss became inf at step {loop.done}: .*no checkpoint was written"):
        action.act(run, loop)
    assert json.loads((run.output_dir / "metrics.json").read_text())["steps"] == loop.done < 100


def test_train_scalars_log_the_window_means_of_each_point_a_call_passed(built):
    """SGD at 0.1 on 2x^2 + x + 3 from 5 (x <- x - 0.1 (4x + 1)): one call of 20 steps passes the log points 10
    and 20, each the mean loss of its own ten steps."""
    run, loop = built("trainer.steps=20", "trainer.log_every=10")
    action = TrainScalars()
    action.begin(run, loop)
    take(run, loop, 20)
    action.act(run, loop)
    tf.summary.flush()
    path = [5.0]
    for _ in range(20):
        path.append(path[-1] - 0.1 * (4 * path[-1] + 1))
    windows = [np.mean([2 * x * x + x + 3 for x in path[start : start + 10]]) for start in (0, 10)]

    scalars = read_scalars(run.output_dir)
    assert scalars["train/loss"] == [
        (10, pytest.approx(windows[0], rel=1e-5)),
        (20, pytest.approx(windows[1], rel=1e-5)),
    ]
    assert scalars["variables/x"] == [
        (0, 5.0),
        (10, pytest.approx(path[10], rel=1e-5)),
        (20, pytest.approx(path[20], rel=1e-5)),
    ]
    assert [step for step, _ in scalars["train/gradient_norm"]] == [10, 20]  # each at its own step
    assert scalars["train/gradient_norm"][0][1] == pytest.approx(abs(4 * path[9] + 1), rel=1e-5)
    assert loop.logs["train/loss"] == pytest.approx(windows[1], rel=1e-5) and float(run.loss_mean.count) == 0


def test_checkpoints_save_on_cadence_and_at_a_stop_with_the_logs(built):
    run, loop = built("trainer.steps=20", "trainer.checkpoint_every=5")
    action = Checkpoints()
    action.begin(run, loop)
    take(run, loop, 5)
    loop.logs["train/loss"] = 2.5
    assert action.due(run, loop) and action.due(run, loop)  # asking changes nothing
    action.act(run, loop)
    assert tf.train.latest_checkpoint(str(run.output_dir / "checkpoints")).endswith("ckpt-5")
    take(run, loop, 2)
    assert not action.due(run, loop)
    loop.stop = "stopped by SIGTERM"
    assert action.due(run, loop)
    action.act(run, loop)

    resumed, resumed_loop = built("trainer.steps=20", "trainer.checkpoint_every=5")
    resumed.checkpoint.restore(tf.train.latest_checkpoint(str(run.output_dir / "checkpoints")))
    assert Loop.of(resumed).done == 7 and Loop.of(resumed).logs == {"train/loss": 2.5}


def test_the_controller_stops_at_a_signal_after_the_checkpoints_save(built):
    from trainer.loop.controller import drive

    run, loop = built("trainer.steps=20", "trainer.checkpoint_every=100", "trainer.steps_per_call=5")

    class Signal(Action):  # a SIGTERM arrives after step 7, while the actions act
        every = 7

        def act(self, run, loop):
            signal.raise_signal(signal.SIGTERM)

    run = dataclasses.replace(run, actions=(*run.actions, Signal()))
    with pytest.raises(Interrupted, match=r"stopped by SIGTERM at step 12 of 20; checkpoint .*ckpt-12 written"):
        drive(run, loop)  # the next call, of steps_per_call steps, ends at 12, and the loop stops there
    assert loop.done == 12 and not (run.output_dir / "metrics.json").exists()


def test_validation_keeps_the_best_checkpoint_stops_early_and_restores_the_best(built, fake_mnist):
    run, loop = built(
        "experiment=mnist",
        f"data.path={fake_mnist}",
        "trainer.validation_split=0.25",
        "trainer.patience=1",
        "trainer.min_delta=100",
        "trainer.restore_best=true",
    )
    action = Validation()
    action.begin(run, loop)
    assert action.every == run.steps_per_epoch
    take(run, loop, 6)
    assert action.act(run, loop) is None
    best_weights = [w.numpy() for w in run.model.trainable_variables]
    take(run, loop, 6)
    stop = action.act(run, loop)  # no improvement of 100: patience is exhausted
    assert stop == "1 validation passes without improvement" and loop.logs["val/loss"] < 10
    action.end(run, loop)

    final = loop.results()
    assert final["best_step"] == 6 and final["stopped_early_at"] == 12 and final["tested_weights"] == "best (step 6)"
    for restored, best in zip(run.model.trainable_variables, best_weights):
        np.testing.assert_array_equal(restored.numpy(), best)


def test_histograms_of_weights_and_gradients(built):
    run, loop = built("trainer.steps=4", "logging.histogram_every=2")
    action = Histograms()
    action.begin(run, loop)
    take(run, loop, 2)
    action.act(run, loop)
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
    run, loop = built("experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=2", "trainer.log_every=3")
    action = KerasCallbacks({"recorder": recorder})
    action.begin(run, loop)
    while loop.done < run.total_steps:
        take(run, loop, int(min(action.steps_to_due(loop.done), run.total_steps - loop.done)))
        if action.due(run, loop):
            action.act(run, loop)  # the loop restarted the windows at every third step: it sums them

    assert [epoch for epoch, _, _ in recorder.seen] == [0, 1]
    assert all(set(logs) == {"loss", "accuracy"} and optimizer is run.optimizer for _, logs, optimizer in recorder.seen)
    with pytest.raises(ConfigError, match="is not a keras.callbacks.Callback"):
        KerasCallbacks({"bad": object()})


def test_pictures_and_report_end_the_run(built):
    run, loop = built("trainer.steps=10", "logging.pictures=true")
    take(run, loop, 10)
    loop.logs.update({"train/loss": 2.875, "final/from_an_action": 7})
    Pictures().end(run, loop)
    Report().end(run, loop)

    metrics = json.loads((run.output_dir / "metrics.json").read_text())
    assert metrics["steps"] == 10 and metrics["variables"]["x"] == pytest.approx(run.model.values()["x"])
    assert metrics["from_an_action"] == 7 and loop.results() == metrics
    assert (run.output_dir / "landscape.png").read_bytes().startswith(b"\x89PNG")


def test_scalar_task_reports_the_variables_and_refuses_a_keras_model(built, make_config):
    run, loop = built("trainer.steps=10")
    take(run, loop, 10)
    report = ScalarTask().report(run, loop)
    assert report["variables"] == run.model.values() and math.isclose(report["objective"], float(run.model()))
    assert ScalarTask().log_values(run.model) == {"variables/x": run.model.named_variables["x"]}

    with pytest.raises(ConfigError, match="task=scalar needs a scalar problem"):
        ScalarTask().check(build_parts(make_config("model=mlp", "loss=sparse_categorical_crossentropy")))


def test_classification_task_tests_and_exports_with_the_optimizer(built, fake_mnist):
    import keras

    run, loop = built("experiment=mnist", f"data.path={fake_mnist}", "trainer.epochs=1")
    take(run, loop, run.total_steps)
    task = ClassificationTask()
    report = task.report(run, loop)
    task.export(run)

    assert set(report) == {"test_loss", "test_accuracy"} and 0 <= report["test_accuracy"] <= 1
    restored = keras.models.load_model(run.output_dir / "model.keras")
    assert int(restored.optimizer.iterations.numpy()) == run.total_steps
    assert set(ClassificationTask().pictures(run, loop)) == {"misclassified", "confusion_matrix"}


class CountingAction(Action):
    """A user's own action, from the config: counts its calls every 7 steps, and sees the train scalars'
    window, which the loop restarts at each log point it passes."""

    def __init__(self, every: int):
        self.every, self.calls = every, []

    def act(self, run, loop):
        self.calls.append((loop.done, float(run.loss_mean.count)))
        (run.output_dir / "counted.json").write_text(json.dumps(self.calls))


def test_a_users_action_is_called_at_its_cadence(make_config, tmp_path):
    train(
        make_config(
            "trainer.steps=30",
            "+actions.counting._target_=tests.test_actions.CountingAction",
            "+actions.counting.every=7",
        )
    )

    counted = json.loads((tmp_path / "run" / "counted.json").read_text())
    assert [step for step, _ in counted] == [7, 14, 21, 28, 30]
    assert [count for _, count in counted] == [7, 4, 1, 8, 0]  # steps since the last log point (every 10, 30 too)


def test_record_logs_the_config_the_hparams_session_and_the_graph_once(built):
    from trainer.actions.record import Record

    run, loop = built("trainer.steps=10", "logging.graph=true")
    Record().begin(run, loop)
    tf.summary.flush()

    tensors = read_tensors(run.output_dir)
    assert "optimizer:" in tensors["config"][0][1].item().decode()
    assert "_hparams_/session_start_info" in tensors
    assert run.train_loop.experimental_get_tracing_count() == 1  # traced for the graph; the first call reuses it


def test_plateau_counters_are_saved_in_its_state_and_taken_back(built):
    from trainer.actions.plateau import Plateau

    run, loop = built("trainer.steps=40", "trainer.log_every=10", "schedule=reduce_on_plateau", "schedule.patience=5")
    action = Plateau()
    action.begin(run, loop)
    for loss in (3.0, 2.0, 2.5):  # an improvement, then a window without one
        loop.done += 10
        loop.logs["train/loss"] = loss
        action.act(run, loop)
    assert {name: float(v.numpy()) for name, v in action.state().items()} == {
        "wait": 1,
        "best": 2.0,
        "cooldown_counter": 0,
    }

    resumed = Plateau()
    for name, variable in resumed.state().items():  # as a checkpoint restores them
        variable.assign(action.state()[name])
    resumed.begin(run, loop)
    assert (resumed.callback.wait, resumed.callback.best, resumed.callback.cooldown_counter) == (1, 2.0, 0)
