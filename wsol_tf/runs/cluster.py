"""The TF_CONFIG a multi-worker run reads, checked without TensorFlow: `TrainConfig.validate`
names a bad one before anything is written (`training.distribute` builds the strategies)."""

import json
import os

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
CLUSTER_VARIABLE = "TF_CONFIG"
# The jobs of a MultiWorkerMirroredStrategy cluster ("ps" is ParameterServerStrategy's); a
# cluster may also name one "evaluator" (a side-car evaluator, which does not train).
CLUSTER_JOBS = ("chief", "worker")
EVALUATOR_JOB = "evaluator"
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
        if job not in (*CLUSTER_JOBS, EVALUATOR_JOB):
            raise ValueError(
                f'{CLUSTER_VARIABLE}: job "{job}" in "cluster": a multi-worker run has the jobs '
                f"{' and '.join(CLUSTER_JOBS)} only (and one {EVALUATOR_JOB})."
            )
        if not (isinstance(addresses, list) and addresses and all(map(_is_address, addresses))):
            raise ValueError(
                f'{CLUSTER_VARIABLE}: "cluster"."{job}" must be a non-empty list of "host:port" '
                f"addresses, not {_short(addresses)}."
            )
    for job in ("chief", EVALUATOR_JOB):
        if len(cluster.get(job, ())) > 1:
            raise ValueError(f'{CLUSTER_VARIABLE}: "cluster"."{job}" names more than one address.')
    if not any(job in cluster for job in CLUSTER_JOBS):
        raise ValueError(f'{CLUSTER_VARIABLE}: "cluster" names no "chief" or "worker" job.')


def _check_task(task, cluster):
    if not isinstance(task, dict) or not {"type", "index"} <= set(task):
        raise ValueError(
            f'{CLUSTER_VARIABLE}: "task" must be {{"type": <job>, "index": <n>}}, not '
            f"{_short(task)}."
        )
    job, index = task["type"], task["index"]
    if job == EVALUATOR_JOB:
        raise ValueError(
            f'{CLUSTER_VARIABLE}: "task"."type" is "{EVALUATOR_JOB}": an evaluator does not '
            "train (only the chief and the workers do); run wsol_tf.evaluate on the run's "
            "workdir there instead."
        )
    if not isinstance(job, str) or job not in CLUSTER_JOBS or job not in cluster:
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
    """The number of training processes (chief and workers) a checked TF_CONFIG's cluster
    has."""
    return worker_count(spec["cluster"])


def worker_count(cluster):
    """Training processes of a cluster {job: addresses}: its chief and workers (an evaluator
    does not train), as MultiWorkerMirroredStrategy counts them."""
    return sum(len(cluster.get(job, ())) for job in CLUSTER_JOBS)


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
