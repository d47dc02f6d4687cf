"""What every process of the project does before it uses TensorFlow: import it with its native start-up
notices hidden, and set its import's millions of objects aside from the garbage collector."""

import contextlib
import gc
import logging
import os
import sys


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
