"""Choosing a tf.distribute strategy, the one chief rule, and the epoch length per worker.

TensorFlow is imported inside the functions that build strategies. The TF_CONFIG checks
that `TrainConfig.validate` runs before TensorFlow is imported are in `wsol_tf.runs.cluster`.
"""

import json
import os

from wsol_tf.runs.cluster import (
    CLUSTER_VARIABLE,
    STRATEGIES,
    check_cluster_config,
    worker_count,
)


def is_chief_task(cluster, task_type, task_id):
    """The one chief rule (MultiWorkerMirroredStrategy's): the process that writes the run's
    files. Without a cluster or task, this process; with a "chief" job, its task; else
    worker 0."""
    if not cluster or not task_type:
        return True
    if "chief" in cluster:
        return task_type == "chief"
    return task_type == "worker" and int(task_id or 0) == 0


def _environment_cluster(environ):
    """(cluster, task) of TF_CONFIG as read before TensorFlow starts ({}, {} without one or
    when it is not JSON: `check_cluster_config` names that)."""
    try:
        spec = json.loads(environ.get(CLUSTER_VARIABLE) or "{}")
    except ValueError:
        return {}, {}
    if not isinstance(spec, dict):
        return {}, {}
    return spec.get("cluster") or {}, spec.get("task") or {}


def is_chief_process(environ=os.environ):
    """True unless TF_CONFIG names this process a non-chief worker (`is_chief` decides the
    same once TensorFlow runs): only the chief moves or writes run files."""
    cluster, task = _environment_cluster(environ)
    return is_chief_task(cluster, task.get("type"), task.get("index", 0))


def process_workers(environ=os.environ):
    """Training processes of the TF_CONFIG cluster (1 without one), before TensorFlow."""
    cluster, _ = _environment_cluster(environ)
    return max(1, worker_count(cluster))


def steps_per_epoch(config, records, workers=1):
    """(data steps, steps per epoch): batches in one pass over the split per worker (each
    reads its shard, len // workers images, in per-worker batches), and the run's epoch
    length; ValueError when the global batch is larger than the split."""
    per_worker_batch = config.batch_size // workers
    data_steps = (len(records) // workers) // per_worker_batch if per_worker_batch else 0
    if data_steps < 1:
        raise ValueError(
            f"--batch_size={config.batch_size} is larger than the training split "
            f"({len(records)} images from {records.source}"
            + (f", {workers} workers" if workers > 1 else "")
            + "); lower --batch_size."
        )
    return data_steps, config.steps_per_epoch or data_steps


def split_cpu(num_replicas):
    """Splits the CPU into `num_replicas` logical devices (before TensorFlow starts using it),
    so the mirrored code path runs without GPUs."""
    import tensorflow as tf

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
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"--strategy={name!r}: valid: {', '.join(STRATEGIES)}.")
    if name == "multi_worker":
        check_cluster_config(name)  # named here too for callers that skipped validation
        return tf.distribute.MultiWorkerMirroredStrategy()
    split_cpu(cpu_replicas)
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")
    if name == "mirrored" or (name == "auto" and (gpus or cpu_replicas > 1)):
        # Every MirroredStrategy numbers its collectives from the same group and instance keys,
        # and the runtime remembers each key's shape: a second strategy in the same process
        # whose program differs (another method: EIL runs the upper network twice, RFGA adds
        # variables) then fails with "Shape mismatch in the collective instance N". Give each
        # strategy its own key range, as TensorFlow's own tests do (strategy_combinations).
        tf.distribute.MirroredStrategy._collective_key_base += 100000
        return tf.distribute.MirroredStrategy(gpus or cpus)
    return tf.distribute.get_strategy()


def _strategy_cluster(strategy):
    """(cluster {job: addresses}, resolver) of a strategy's public `cluster_resolver` ({},
    None for the strategies of one process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return ({}, None) if resolver is None else (resolver.cluster_spec().as_dict(), resolver)


def is_chief(strategy):
    """True on the worker that writes checkpoints, logs and summaries."""
    cluster, resolver = _strategy_cluster(strategy)
    if not cluster:
        return True
    return is_chief_task(cluster, resolver.task_type, resolver.task_id)


def num_workers(strategy):
    """Training processes of a strategy's cluster (1 for a strategy of one process)."""
    cluster, _ = _strategy_cluster(strategy)
    return max(1, worker_count(cluster))


def task_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return 0 if resolver is None or resolver.task_id is None else int(resolver.task_id)
