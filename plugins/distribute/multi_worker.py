"""Synchronous data parallelism over several machines (workers), each with its own devices:
`tf.distribute.MultiWorkerMirroredStrategy`. Every worker runs the same command; the cluster and this
worker's place in it come from the `TF_CONFIG` environment variable, or from SLURM's (`cluster=slurm`,
through `SlurmClusterResolver`). Gradients are all-reduced by collective ops, which give up after
`timeout_seconds` when a worker is gone, so that the others fail rather than hang."""

import tensorflow as tf

from trainer.config.ranges import valid
from trainer.errors import ConfigError

CLUSTERS = ("tf_config", "slurm")
COMMUNICATIONS = {"auto": "AUTO", "ring": "RING", "nccl": "NCCL"}


@valid(cluster="one of tf_config, slurm", communication="one of auto, ring, nccl", timeout_seconds="> 0")
def multi_worker(
    cluster: str = "tf_config", communication: str = "auto", timeout_seconds: float = 60.0
) -> tf.distribute.MultiWorkerMirroredStrategy:
    if cluster not in CLUSTERS:
        raise ConfigError(f"distribute.cluster must be one of {', '.join(CLUSTERS)}; got {cluster!r}")
    if communication not in COMMUNICATIONS:
        raise ConfigError(f"distribute.communication must be one of {', '.join(COMMUNICATIONS)}; got {communication!r}")
    if not timeout_seconds > 0:
        raise ConfigError(f"distribute.timeout_seconds must be a number > 0; got {timeout_seconds}")
    try:
        resolver = (
            tf.distribute.cluster_resolver.SlurmClusterResolver()
            if cluster == "slurm"
            else tf.distribute.cluster_resolver.TFConfigClusterResolver()
        )
    except RuntimeError as error:  # SLURM's variables are missing: not inside srun or sbatch
        raise ConfigError(
            f"distribute.cluster=slurm: {error}; run it under srun or sbatch, or use distribute.cluster=tf_config"
        ) from None
    if not resolver.cluster_spec().as_dict():
        raise ConfigError(
            "distribute=multi_worker needs a cluster: set TF_CONFIG on every worker "
            "(docs/scaling.md), or run under SLURM with distribute.cluster=slurm"
        )
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=getattr(tf.distribute.experimental.CommunicationImplementation, COMMUNICATIONS[communication]),
        timeout_seconds=timeout_seconds,
    )
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver, communication_options=options)
