"""Synchronous data parallelism on one machine: `tf.distribute.MirroredStrategy` over its GPUs, or over the
devices named. `logical_cpus` splits the CPU into that many logical devices and mirrors over them: how a
multi-device run is tried, and tested, on a machine without GPUs."""

import tensorflow as tf

from trainer.config.ranges import valid
from trainer.errors import ConfigError


@valid(devices="each any", logical_cpus="int >= 1")
def mirrored(devices: list | None = None, logical_cpus: int | None = None) -> tf.distribute.MirroredStrategy:
    if logical_cpus is not None:
        if devices is not None:
            raise ConfigError("distribute.devices and distribute.logical_cpus exclude each other; set one of them")
        devices = split_cpu(logical_cpus)
    return tf.distribute.MirroredStrategy(None if devices is None else list(devices))


def split_cpu(count: int) -> list[str]:
    """The names of `count` logical CPU devices, made from the physical CPU (before TensorFlow starts)."""
    if count < 1:
        raise ConfigError(f"distribute.logical_cpus must be a positive integer; got {count}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:  # TensorFlow started already: keep the split it has, if it is the one asked for
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise ConfigError(
                f"distribute.logical_cpus={count}: TensorFlow has started already in this process with "
                f"{len(tf.config.list_logical_devices('CPU'))} CPU devices; run the command afresh"
            ) from None
    return [f"/cpu:{index}" for index in range(count)]
