"""Import TensorFlow once, quietly, with Keras on the TensorFlow backend."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def _stderr_silenced():
    """TF prints its oneDNN/CUDA banner from C++ straight to fd 2; hide it during import only."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        yield
        return
    saved = os.dup(fd)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def import_tensorflow():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _stderr_silenced():
        import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    return tf


def gpu_devices() -> list[str]:
    tf = import_tensorflow()
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def gpu_compute_capability() -> tuple[int, int] | None:
    """The lowest CUDA compute capability of the GPUs TensorFlow sees, or None without a GPU."""
    tf = import_tensorflow()
    capabilities = [tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0))
                    for gpu in tf.config.list_physical_devices("GPU")]
    return min(capabilities) if capabilities else None
