"""What a run sets for the whole process (its seeds, TensorFlow's global generator, op determinism, the mixed
precision policy) and the putting back of what was there before, so that the runs of one process (a sweep's
jobs under the basic launcher, a notebook's loop) are each what it would be in a process of its own.

Setting TensorFlow's global seed also empties its cache of eager kernels and compiled programs' instances, so
that a legacy stateful random op (`tf.random.normal` without a generator) restarts its stream. A run draws
from none: its random numbers come from stateless ops, Keras' seed generators and `tf.random.Generator`, whose
states are the seeds and the checkpointed variables. So the seeds are set with the cache kept: emptying it cost
each run of a sweep 40 ms (of 105) in making every kernel again. Plugins draw the same way (docs/plugins.md):
a legacy stateful op's state is in neither a checkpoint nor the seed. A kernel may settle how it computes as it
is made, so a run under `trainer.deterministic` still empties the cache, with op determinism on.
"""

import contextlib
import random

import keras
import numpy as np
import tensorflow as tf
from keras.src.backend.common import global_state
from tensorflow.python import pywrap_tfe
from tensorflow.python.eager import context
from tensorflow.python.framework import config as tf_config

# Keras' own record of its global seed and seed generator (keras.utils.set_random_seed)
KERAS_SEEDS = ("global_random_seed", "global_seed_generator")


def configure_process(settings) -> None:
    """Seed Python, NumPy, TensorFlow and Keras from `trainer.seed`, give TensorFlow a global generator from
    it (checkpointed with the run), and set op determinism and the precision policy as the settings say."""
    (tf_config.enable_op_determinism if settings.deterministic else tf_config.disable_op_determinism)()
    with contextlib.nullcontext() if settings.deterministic else kernel_cache_kept():
        keras.utils.set_random_seed(settings.seed)  # and, deterministic, empties the cache: determinism is on
    tf.random.set_global_generator(tf.random.Generator.from_seed(settings.seed))
    keras.mixed_precision.set_global_policy(settings.precision)


@contextlib.contextmanager
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
        with kernel_cache_kept():
            tf.random.set_seed(seed)
        for name, value in keras_seeds.items():
            global_state.set_global_attribute(name, value)
        tf.random.set_global_generator(generator)
        (tf_config.enable_op_determinism if determinism else tf_config.disable_op_determinism)()
        keras.mixed_precision.set_global_policy(policy)


@contextlib.contextmanager
def kernel_cache_kept():
    """Setting TensorFlow's global seed inside the block leaves its kernel cache as it is (see above). TensorFlow
    has no public way to set the seed alone, hence its internal call, made a no-op for the block."""
    clear = pywrap_tfe.TFE_ContextClearCaches
    pywrap_tfe.TFE_ContextClearCaches = lambda handle: None
    try:
        yield
    finally:
        pywrap_tfe.TFE_ContextClearCaches = clear
