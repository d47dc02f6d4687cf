"""What a run sets for the whole process (its seeds, TensorFlow's global generator, op determinism, the mixed
precision policy) and the putting back of what was there before, so that the runs of one process (a sweep's
jobs under the basic launcher, a notebook's loop) are each what it would be in a process of its own."""

import random
from contextlib import contextmanager

import keras
import numpy as np
import tensorflow as tf
from keras.src.backend.common import global_state
from tensorflow.python.eager import context
from tensorflow.python.framework import config as tf_config

# Keras' own record of its global seed and seed generator (keras.utils.set_random_seed)
KERAS_SEEDS = ("global_random_seed", "global_seed_generator")


def configure_process(settings) -> None:
    """Seed Python, NumPy, TensorFlow and Keras from `trainer.seed`, give TensorFlow a global generator from
    it (checkpointed with the run), and set op determinism and the precision policy as the settings say."""
    keras.utils.set_random_seed(settings.seed)
    tf.random.set_global_generator(tf.random.Generator.from_seed(settings.seed))
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()
    keras.mixed_precision.set_global_policy(settings.precision)


@contextmanager
def process_restored():
    """Put back, when the block ends, what `configure_process` changes. TensorFlow has no public reader of its
    global seed or its determinism, hence its internal ones."""
    saved = (
        random.getstate(),
        np.random.get_state(),
        context.global_seed(),
        {name: global_state.get_global_attribute(name) for name in KERAS_SEEDS},
        tf.random.get_global_generator(),
        tf_config.is_op_determinism_enabled(),
        keras.mixed_precision.global_policy(),
    )
    try:
        yield
    finally:
        python, numpy, seed, keras_seeds, generator, determinism, policy = saved
        random.setstate(python)
        np.random.set_state(numpy)
        tf.random.set_seed(seed)
        for name, value in keras_seeds.items():
            global_state.set_global_attribute(name, value)
        tf.random.set_global_generator(generator)
        (tf_config.enable_op_determinism if determinism else tf_config.disable_op_determinism)()
        keras.mixed_precision.set_global_policy(policy)
