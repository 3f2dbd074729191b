"""Imports TensorFlow once, with its C++ start-up chatter kept off the terminal."""

import os
import sys


def import_tensorflow_quietly():
    """Imports TensorFlow with pre-absl C++ lines (CUDA probes on CPU machines) sent to /dev/null.

    TF_CPP_MIN_LOG_LEVEL does not silence the lines printed before absl logging starts (STACK.md Q3),
    so stderr is redirected at the file-descriptor level for the import and the first device query.
    Python exceptions are unaffected. Set TFGANAD_VERBOSE_TF=1 to see everything.
    """
    if "tensorflow" in sys.modules or os.environ.get("TFGANAD_VERBOSE_TF"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some notebook front-ends)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
