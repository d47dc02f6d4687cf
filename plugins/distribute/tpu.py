"""Cloud TPUs: `tf.distribute.TPUStrategy` on the TPU at `address` ("" finds the one this VM is attached to,
"local" for a TPU VM). Composes and is documented in docs/scaling.md; not run by the tests, which have no TPU."""

import tensorflow as tf

from trainer.config.ranges import valid


@valid(address="any")
def tpu(address: str = "") -> tf.distribute.TPUStrategy:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
