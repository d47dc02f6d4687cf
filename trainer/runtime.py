"""Where a run executes: the `tf.distribute` strategy in whose scope every variable is built, and whether
this process is the one that writes event files, pictures, metrics.json and the exported model. On one
device it is TensorFlow's default strategy and the only process, which costs nothing."""
from dataclasses import dataclass

import tensorflow as tf


@dataclass
class Runtime:
    strategy: tf.distribute.Strategy
    is_writer: bool = True

    @classmethod
    def local(cls) -> "Runtime":
        return cls(tf.distribute.get_strategy())

    def summary_writer(self, directory):
        """The run's event-file writer; a no-op one where this process does not write."""
        return tf.summary.create_file_writer(str(directory)) if self.is_writer else tf.summary.create_noop_writer()
