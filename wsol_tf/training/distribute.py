"""Choosing a tf.distribute strategy, and checking the TF_CONFIG a multi-worker run reads.

TensorFlow is imported inside the functions that build strategies: `check_cluster_config`
runs in `TrainConfig.validate`, before TensorFlow is imported and before anything is written.
"""

import json
import os

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
CLUSTER_VARIABLE = "TF_CONFIG"
# The jobs of a MultiWorkerMirroredStrategy cluster ("ps" is ParameterServerStrategy's).
CLUSTER_JOBS = ("chief", "worker")
EXAMPLE = (
    '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}'
)


def cluster_config(text):
    """TF_CONFIG's value parsed and checked: {"cluster": {job: [address, ...]}, "task":
    {"type": job, "index": n}}; ValueError naming TF_CONFIG and what is wrong."""
    try:
        spec = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{CLUSTER_VARIABLE} is not valid JSON ({error}).") from None
    if not isinstance(spec, dict):
        raise ValueError(
            f"{CLUSTER_VARIABLE} must be a JSON object ({EXAMPLE}), not {_short(spec)}."
        )
    missing = [key for key in ("cluster", "task") if key not in spec]
    if missing:
        raise ValueError(f'{CLUSTER_VARIABLE} has no "{missing[0]}" (it takes the form {EXAMPLE}).')
    _check_cluster(spec["cluster"])
    _check_task(spec["task"], spec["cluster"])
    return spec


def _check_cluster(cluster):
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(
            f'{CLUSTER_VARIABLE}: "cluster" must map jobs to lists of "host:port" addresses, '
            f"not {_short(cluster)}."
        )
    for job, addresses in cluster.items():
        if job not in CLUSTER_JOBS:
            raise ValueError(
                f'{CLUSTER_VARIABLE}: job "{job}" in "cluster": a multi-worker run has the jobs '
                f"{' and '.join(CLUSTER_JOBS)} only."
            )
        if not (isinstance(addresses, list) and addresses and all(map(_is_address, addresses))):
            raise ValueError(
                f'{CLUSTER_VARIABLE}: "cluster"."{job}" must be a non-empty list of "host:port" '
                f"addresses, not {_short(addresses)}."
            )
    if len(cluster.get("chief", ())) > 1:
        raise ValueError(f'{CLUSTER_VARIABLE}: "cluster"."chief" names more than one address.')


def _check_task(task, cluster):
    if not isinstance(task, dict) or not {"type", "index"} <= set(task):
        raise ValueError(
            f'{CLUSTER_VARIABLE}: "task" must be {{"type": <job>, "index": <n>}}, not '
            f"{_short(task)}."
        )
    job, index = task["type"], task["index"]
    if not isinstance(job, str) or job not in cluster:
        jobs = ", ".join(f'"{j}"' for j in cluster)
        raise ValueError(
            f'{CLUSTER_VARIABLE}: "task"."type" is {_short(job)}, not a job of "cluster" ({jobs}).'
        )
    if not (isinstance(index, int) and not isinstance(index, bool)):
        raise ValueError(
            f'{CLUSTER_VARIABLE}: "task"."index" must be a whole number, not {_short(index)}.'
        )
    if not 0 <= index < len(cluster[job]):
        raise ValueError(
            f'{CLUSTER_VARIABLE}: "task"."index" {index} is out of range: "cluster"."{job}" '
            f"has {len(cluster[job])} address(es), indexed from 0."
        )


def _is_address(value):
    host, _, port = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    return bool(host) and port.isdigit()


def _short(value, limit=80):
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cluster_tasks(spec):
    """The number of processes a checked TF_CONFIG's cluster has."""
    return sum(len(addresses) for addresses in spec["cluster"].values())


def check_cluster_config(strategy, environ=os.environ):
    """Checks the TF_CONFIG a run with `strategy` reads (the strategy itself for
    multi_worker; the workdir's chief and worker count for every strategy): ValueError
    naming TF_CONFIG, before TensorFlow is imported and anything is written."""
    text = environ.get(CLUSTER_VARIABLE, "")
    if text.strip() in ("", "{}"):  # no cluster (as TensorFlow reads it)
        if strategy == "multi_worker":
            raise ValueError(
                f"--strategy=multi_worker needs the {CLUSTER_VARIABLE} environment variable "
                "(the cluster and this process's task)."
            )
        return None
    spec = cluster_config(text)
    if strategy != "multi_worker" and cluster_tasks(spec) > 1:
        # Each process would train alone, with the epoch length of the cluster's workers,
        # and only TF_CONFIG's chief would write the run's files.
        raise ValueError(
            f"{CLUSTER_VARIABLE} names a cluster of {cluster_tasks(spec)} processes but "
            f"--strategy={strategy} trains in this process alone: pass --strategy=multi_worker, "
            f"or unset {CLUSTER_VARIABLE}."
        )
    return spec


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
