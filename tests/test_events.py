"""TensorBoard: each run's event files hold the documented tags, read back by TensorBoard itself."""

import time

import pytest

from tests.conftest import read_scalars, read_text
from trainer.errors import Diverged
from trainer.train import train


def test_scalar_run_logs_loss_learning_rate_gradient_norm_and_variables(make_config, tmp_path):
    metrics = train(make_config("trainer.steps=100", "trainer.log_every=10"))
    scalars = read_scalars(tmp_path / "run")

    final = {
        f"final/{name}"
        for name in ("x", "loss", "steps", "objective", "distance_to_minimum", "state_bytes_per_parameter")
    }
    timing = {"time/step_seconds", "time/compile_seconds"}
    assert set(scalars) == {"train/loss", "train/learning_rate", "train/gradient_norm", "variables/x", *final, *timing}
    assert [step for step, _ in scalars["train/loss"]] == list(range(10, 101, 10))
    assert [step for step, _ in scalars["variables/x"]] == list(range(0, 101, 10))  # the path from its start
    assert scalars["variables/x"][0][1] == 5.0
    assert scalars["train/learning_rate"][-1][1] == pytest.approx(0.1)
    assert scalars["variables/x"][-1][1] == pytest.approx(metrics["variables"]["x"])
    assert scalars["final/objective"] == [(100, pytest.approx(metrics["objective"]))]
    assert scalars["train/loss"][-1][1] < scalars["train/loss"][0][1]


def test_seconds_of_steps_leave_tracing_and_compiling_out_and_add_up_over_a_resume(make_config, tmp_path):
    started = time.perf_counter()
    train(make_config("trainer.steps=50", "trainer.log_every=10", "trainer.checkpoint_every=10"))
    wall = time.perf_counter() - started
    train(make_config("trainer.steps=100", "trainer.log_every=10"))  # resumes at step 50
    scalars = read_scalars(tmp_path / "run")

    step_seconds = scalars["time/step_seconds"]
    assert [step for step, _ in step_seconds] == list(range(0, 101, 10)) and step_seconds[0][1] == 0.0
    seconds = [value for _, value in step_seconds]
    assert all(later > earlier for earlier, later in zip(seconds, seconds[1:]))  # across the resume too
    compiled = scalars["time/compile_seconds"]
    assert [step for step, _ in compiled] == [0, 50]  # once per process's build, where it started
    assert seconds[5] + compiled[0][1] < wall  # the first run's steps and its compilation, apart


def test_a_diverging_run_keeps_the_points_its_last_call_passed(make_config, tmp_path):
    """SGD at 0.6 on 2x^2 + x + 3 diverges (lr L = 2.4 > 2); the one call of the run passed log points before
    its loss overflowed, and they are written before the run stops."""
    with pytest.raises(Diverged) as error:
        train(make_config("optimizer.learning_rate=0.6", "trainer.steps=1000", "trainer.log_every=10"))
    steps = [step for step, _ in read_scalars(tmp_path / "run")["train/loss"]]

    diverged = int(str(error.value).split(" at step ")[1].split(":")[0])
    assert 50 < diverged < 1000 and steps == list(range(10, diverged, 10))


def test_gradient_norm_is_that_of_the_last_step_before_each_point(make_config, tmp_path):
    train(make_config("trainer.steps=20", "trainer.log_every=10"))  # SGD at 0.1 on 2x^2 + x + 3 from x = 5
    x, expected = 5.0, {}
    for step in range(1, 21):
        gradient = 4 * x + 1
        expected[step] = abs(gradient)
        x -= 0.1 * gradient

    logged = read_scalars(tmp_path / "run")["train/gradient_norm"]
    assert logged == [(10, pytest.approx(expected[10], rel=1e-5)), (20, pytest.approx(expected[20], abs=1e-6))]


def test_mnist_run_logs_train_and_test_loss_and_accuracy(make_config, fake_mnist, tmp_path):
    metrics = train(make_config("experiment=mnist", f"data.path={fake_mnist}", "trainer.log_every=4"))
    scalars = read_scalars(tmp_path / "run")

    assert {"train/loss", "train/accuracy", "train/learning_rate", "test/loss", "test/accuracy"} <= set(scalars)
    assert scalars["test/accuracy"] == [(metrics["steps"], pytest.approx(metrics["test_accuracy"]))]
    assert scalars["train/accuracy"][-1][1] == pytest.approx(metrics["accuracy"])


def test_resolved_config_is_logged_as_text(make_config, tmp_path):
    train(make_config("optimizer=adam", "optimizer.learning_rate=0.05", "trainer.steps=10"))

    text = read_text(tmp_path / "run", "config")
    assert "_target_: keras.optimizers.Adam" in text
    assert "learning_rate: 0.05" in text


def test_scalars_are_written_as_tf_summary_scalar_writes_them(tmp_path):
    """write_scalars builds the protobuf itself (TensorBoard's scalar_pb costs 30 us a tag, an operation a tag
    0.2 ms); the dashboards must read what tf.summary.scalar writes: the same values, dtype and metadata."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    from trainer.outputs.events import PointWriter, write_scalars

    values = {"train/loss": 0.1, "train/learning_rate": 3, "variables/x": float("nan"), "time/step_seconds": 1e-40}

    def written(name: str, write) -> list[tuple]:
        """(step, Summary.Value) of each tag `write` wrote to an event file of its own."""
        with tf.summary.create_file_writer(str(tmp_path / name)).as_default() as writer:
            write()
            writer.flush()
        (events,) = (tmp_path / name).glob("events.out.tfevents.*")
        return [(event.step, value) for event in EventFileLoader(str(events)).Load() for value in event.summary.value]

    ours = written("ours", lambda: write_scalars(values, 7))
    reference = written("tf", lambda: [tf.summary.scalar(tag, value, step=7) for tag, value in values.items()])

    assert [step for step, _ in ours] == [7] * len(values)
    points = [(7, values), (9, {"train/loss": 0.2}), (8, values)]
    for eager in (3, 0):  # an operation each, and the compiled loop of writes
        several = written(f"points{eager}", lambda: PointWriter(eager)(points))
        assert [(step, value.tag) for step, value in several] == [
            *((7, tag) for tag in values),
            (9, "train/loss"),
            *((8, tag) for tag in values),
        ]
        assert [value for step, value in several if step != 9] == [value for _, value in ours] * 2
    assert [value.tag for _, value in ours] == list(values)
    assert [value.metadata for _, value in ours] == [value.metadata for _, value in reference]
    decoded = [[tf.make_ndarray(value.tensor) for _, value in events] for events in (ours, reference)]
    assert [(array.dtype, array.shape, array.tobytes()) for array in decoded[0]] == [
        (array.dtype, array.shape, array.tobytes())
        for array in decoded[1]  # bytes: NaN is not NaN
    ]
