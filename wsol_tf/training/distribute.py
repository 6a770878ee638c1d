"""Choosing a tf.distribute strategy."""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
# One MirroredStrategy per device set and process. Every new MirroredStrategy numbers its
# collective ops from the same keys, so a second one in the same process (two runs in one
# process: tests, sweeps) reuses the first's instance keys, and TensorFlow's collective
# executor then rejects gradients of another shape ("Shape mismatch in the collective
# instance"); reusing the strategy keeps the keys distinct.
_MIRRORED = {}


def split_cpu(num_replicas):
    """Splits the CPU into `num_replicas` logical devices (before TensorFlow starts using it),
    so the mirrored code path runs without GPUs."""
    if num_replicas <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    configs = [tf.config.LogicalDeviceConfiguration() for _ in range(num_replicas)]
    try:
        tf.config.set_logical_device_configuration(cpu, configs)
    except RuntimeError as error:
        have = len(tf.config.list_logical_devices("CPU"))
        if have != num_replicas:
            raise RuntimeError(
                f"--cpu_replicas={num_replicas}: TensorFlow already started with {have} CPU "
                "device(s); set it before any TensorFlow op runs."
            ) from error


def make_strategy(name="auto", cpu_replicas=0):
    """Returns the strategy for `--strategy`.

    Args:
        name: "auto": MirroredStrategy over the visible GPUs when there are
            any (or over the logical CPUs when cpu_replicas > 1), else the
            default strategy; "one_device": the first GPU or the CPU;
            "mirrored": MirroredStrategy over all GPUs, or the logical CPUs;
            "multi_worker": MultiWorkerMirroredStrategy, cluster from TF_CONFIG.
        cpu_replicas: split the CPU into this many logical devices first.
    """
    if name not in STRATEGIES:
        raise ValueError(f"--strategy={name!r}: valid: {', '.join(STRATEGIES)}.")
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable.")
        json.loads(os.environ["TF_CONFIG"])  # a clear JSON error before TF parses it
        return tf.distribute.MultiWorkerMirroredStrategy()
    split_cpu(cpu_replicas)
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")
    if name == "mirrored" or (name == "auto" and (gpus or cpu_replicas > 1)):
        devices = tuple(gpus or cpus)
        if devices not in _MIRRORED:
            _MIRRORED[devices] = tf.distribute.MirroredStrategy(list(devices))
        return _MIRRORED[devices]
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """True on the worker that writes checkpoints, logs and summaries."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None:
        return True
    if "chief" in resolver.cluster_spec().as_dict():
        return task_type == "chief"
    return task_type == "worker" and task_id == 0


def task_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return 0 if resolver is None or resolver.task_id is None else int(resolver.task_id)
