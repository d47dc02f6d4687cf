"""What the command lines (`python -m trainer`, `python -m trainer.gradcheck`) share before they start."""
import contextlib
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
    for chatty in ("absl", "tensorboard"):  # INFO lines on each checkpoint saved and event file read
        logging.getLogger(chatty).setLevel(logging.WARNING)
    with tensorflow_notices_hidden():
        import tensorflow as tf

        tf.config.list_physical_devices()
