"""Scalars written to a run's event file, one operation a step (`write_scalars`) or many steps' in one call
(`write_points`), and what a run logged, read back through TensorBoard's own event reader: the paths drawn on
landscapes, and the tests' view of the dashboards."""

import functools
from pathlib import Path

import numpy as np


def variable_name(variable) -> str:
    """A variable's name in tags and reports: Keras' path (`mlp/dense/kernel`), or a tf.Variable's name."""
    return getattr(variable, "path", None) or variable.name.split(":")[0]


def write_scalars(values: dict, step: int) -> None:
    """Each of `values` (tag -> number) as a TensorBoard scalar at `step`, to the default summary writer, as
    `tf.summary.scalar` writes it (tests/test_events.py), in one operation: TensorFlow's summary write of a
    protobuf, the protobuf built here. `tf.summary.scalar` costs 0.2 ms a tag, TensorBoard's `scalar_pb` 30 us a
    tag, and `tf.summary.experimental.write_raw_pb` adds three operations to the write (its `record_if`,
    which the project never sets): most of a short run's logging, which writes a point every few steps."""
    write_points([(step, values)])


class PointWriter:
    """`write_points(points)`: each (step, values) of `points` as `write_scalars` writes it, in order: an
    operation each until the process has written `eager` points, then several in one call of a compiled loop
    of writes. The loop costs a trace (90 ms on 2 cores), what about 1000 points' operations cost, and then a
    tenth of them: 100 points 7 ms rather than 14. One run rarely writes that many; a sweep's or a
    comparison's jobs in one process do."""

    def __init__(self, eager: int = 1000):
        self.eager = eager
        self.written = 0

    def __call__(self, points: list[tuple[int, dict]]) -> None:
        import tensorflow as tf
        from tensorflow.python.ops.summary_ops_v2 import _summary_state  # the default writer, which tf.summary's
        # own writes read too

        if _summary_state.writer is None or not points:  # none, or a no-op writer's (a worker that does not write)
            return
        writer = _summary_state.writer._resource
        self.written += len(points)
        if len(points) == 1 or self.written <= self.eager:
            for step, values in points:
                tf.raw_ops.WriteRawProtoSummary(writer=writer, step=step, tensor=summary_proto(values))
            return
        steps, protos = zip(*((step, summary_proto(values)) for step, values in points))
        compiled_writes()(writer, tf.constant(steps, tf.int64), tf.constant(protos))


write_points = PointWriter()


def summary_proto(values: dict) -> bytes:
    """The serialized Summary of `values`, each a float32 scalar with the Scalars dashboard's metadata: each
    tag's Summary without its value (`tag_summary`) read as one, as protobuf reads messages written one after
    another, and the values added, 5 us a point of 6 tags rather than 20 for building every Value anew."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    summary = Summary.FromString(b"".join(map(tag_summary, values)))
    for value, number in zip(summary.value, values.values()):
        value.tensor.float_val.append(float(number))
    return summary.SerializeToString()


@functools.lru_cache(maxsize=4096)  # a run's tags, and those of the sweeps and comparisons of the process
def tag_summary(tag: str) -> bytes:
    """A serialized Summary of one scalar `tag`, all but its value."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.compat.proto.types_pb2 import DT_FLOAT

    scalar = TensorProto(dtype=DT_FLOAT, tensor_shape=TensorShapeProto())  # no dimensions
    return Summary(value=[Summary.Value(tag=tag, metadata=scalar_metadata(), tensor=scalar)]).SerializeToString()


@functools.cache
def compiled_writes():
    """`writes(writer, steps, protos)`: each serialized Summary of `protos` at its step, in order."""
    import tensorflow as tf

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.resource),
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None], tf.string),
        ],
        autograph=False,
    )
    def writes(writer, steps, protos):
        def write(index):
            tf.raw_ops.WriteRawProtoSummary(writer=writer, step=steps[index], tensor=protos[index])
            return [index + 1]

        tf.while_loop(lambda index: index < tf.size(steps), write, [tf.constant(0)])

    return writes


@functools.cache
def scalar_metadata():
    """What marks a summary as the Scalars dashboard's."""
    from tensorboard.plugins.scalar.metadata import create_summary_metadata

    return create_summary_metadata(display_name=None, description=None)


def read_events(run_dir: Path) -> dict[str, list]:
    """Every summary event in the event files directly in `run_dir`, in the order written, as TensorBoard's
    reader gives them: tag -> [TensorEvent(wall_time, step, tensor_proto)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    return {tag: events.Tensors(tag) for tag in events.Tags()["tensors"]}


def read_tensors(run_dir: Path) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Every summary in the event files directly in `run_dir`, as tag -> [(step, value)] in the order written."""
    import tensorflow as tf

    return {
        tag: [(event.step, tf.make_ndarray(event.tensor_proto)) for event in events]
        for tag, events in read_events(run_dir).items()
    }


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """The scalar summaries of `run_dir` (the config text left out), as tag -> [(step, value)]."""
    return {
        tag: [(step, float(value)) for step, value in points]
        for tag, points in read_tensors(run_dir).items()
        if all(value.ndim == 0 and value.dtype.kind == "f" for _, value in points)
    }


def aligned(run_dir: Path, tags: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scalar `tags` of `run_dir` at the steps where every one of them was logged, in step order: (the
    steps, the values as a (points, tags) array, each point's seconds since the run's first event). Where a
    resumed run logged a step twice, its last value."""
    import tensorflow as tf

    events = read_events(run_dir)
    start = min((event.wall_time for points in events.values() for event in points), default=0.0)
    columns = [
        {event.step: (event.wall_time, float(tf.make_ndarray(event.tensor_proto))) for event in events.get(tag, [])}
        for tag in tags
    ]
    steps = sorted(set.intersection(*(set(column) for column in columns)))
    values = np.array([[column[step][1] for column in columns] for step in steps]).reshape(len(steps), len(tags))
    seconds = np.array([columns[0][step][0] - start for step in steps])
    return np.array(steps), values, seconds


def read_path(run_dir: Path, names: list[str]) -> np.ndarray:
    """A scalar problem's logged `variables/<name>` as a (points, variables) array in step order."""
    return aligned(run_dir, [f"variables/{name}" for name in names])[1]
