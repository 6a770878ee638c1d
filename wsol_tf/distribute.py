"""Choosing a tf.distribute strategy."""

import tensorflow as tf


def make_strategy(name="auto"):
    """Returns the strategy for `--strategy`.

    Args:
        name: "auto": MirroredStrategy over the visible GPUs when there are
            any, else the default (single-device) strategy; "one_device": the
            first GPU or the CPU; "mirrored": MirroredStrategy over all visible
            GPUs, or over the logical CPU devices when there is no GPU.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if gpus else tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    raise ValueError(f"--strategy={name!r}: valid: auto, one_device, mirrored.")
