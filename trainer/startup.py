"""What every process of the project does before it uses TensorFlow: import it with its native start-up
notices hidden, and set its import's millions of objects aside from the garbage collector; a training
command also points XLA at its persistent cache of compiled programs first."""

import contextlib
import functools
import gc
import hashlib
import logging
import os
import platform
import sys

from trainer.errors import ConfigError


@contextlib.contextmanager
def tensorflow_notices_hidden():
    """Hide what TensorFlow's C++ libraries write straight to file descriptor 2 while they load and look
    for devices (absl start-up notices, CUDA stubs on machines without a GPU): TF_CPP_MIN_LOG_LEVEL does not
    reach them. The run logs the devices it found instead; TRAINER_TF_NOTICES=1 shows the notices."""
    if os.environ.get("TRAINER_TF_NOTICES") == "1":
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def use_compilation_cache(directory: str | None) -> None:
    """Have XLA keep the programs it compiles under `directory` and load them there in later processes
    (a sweep's joblib workers, a rerun, a comparison's phases), unless the user's TF_XLA_FLAGS names a cache
    already. Programs compiled for one CPU can crash another (SIGILL), so each machine type and TensorFlow
    version gets a folder of its own. TensorFlow reads its flags once, at its start: in a process that
    imported it already, only the directory is checked."""
    if directory is None:
        return
    directory = os.path.join(os.path.expanduser(directory), machine_key())
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"trainer.compilation_cache: cannot make {directory} ({error.strerror}); name a "
                          "directory this user can write, or null for no cache") from error  # fmt: skip
    if not os.access(directory, os.W_OK | os.X_OK):  # XLA would fail the first compiled call
        raise ConfigError(f"trainer.compilation_cache: {directory} is not writable; name a directory this user "
                          "can write, or null for no cache")  # fmt: skip
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if "tensorflow" not in sys.modules and "--tf_xla_persistent_cache_directory" not in flags:
        os.environ["TF_XLA_FLAGS"] = f"{flags} --tf_xla_persistent_cache_directory={directory}".strip()


@contextlib.contextmanager
def unreadable_cache_reported():
    """A cached program XLA cannot read (a damaged file) as one line naming the cache and the way out."""
    import tensorflow as tf

    try:
        yield
    except (tf.errors.OutOfRangeError, tf.errors.DataLossError) as error:
        flags = os.environ.get("TF_XLA_FLAGS", "")
        if "--tf_xla_persistent_cache_directory=" not in flags:
            raise
        directory = flags.split("--tf_xla_persistent_cache_directory=")[1].split()[0]
        raise ConfigError(
            f"XLA's cache of compiled programs in {directory} has an entry it cannot read ({error.message}): "
            "delete that directory, or set trainer.compilation_cache=null"
        ) from error


@functools.cache  # read once per process, not at each job of a sweep
def machine_key() -> str:
    """A short name for this machine's CPU (its model and instruction sets) and the installed TensorFlow."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as info:
            cpu = "".join(line for line in info if line.startswith(("model name", "flags")))
    try:
        tensorflow = version("tensorflow")
    except PackageNotFoundError:
        tensorflow = "tensorflow"
    return f"{platform.machine()}-tf{tensorflow}-{hashlib.sha256(cpu.encode()).hexdigest()[:12]}"


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and let it find its devices with its native notices hidden; its Python-side
    info and warnings are off too unless TF_CPP_MIN_LOG_LEVEL says otherwise."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # INFO lines on each checkpoint saved, event file read and cross-replica reduction traced
    for chatty in ("absl", "tensorboard", "tensorflow"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    with tensorflow_notices_hidden():
        import tensorflow as tf

        tf.config.list_physical_devices()
    # TensorFlow's import leaves millions of objects that the collector would otherwise walk again at every
    # collection and at exit (about 1 s per process): set them aside as permanent.
    gc.freeze()


def start_tensorflow(cfg) -> None:
    """Import TensorFlow as a command's run needs it: with the XLA cache `cfg.trainer` names (read once, at its
    import) and its notices hidden."""
    use_compilation_cache(cfg.trainer.compilation_cache)
    import_tensorflow_quietly()
