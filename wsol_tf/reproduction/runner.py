"""The one runner: train and evaluate one config in its workdir, or reuse it when done.

`make demo`, `python -m wsol_tf.sweep` and `make reproduce` all call `run_config`. A result
is keyed by its identity: the full TrainConfig, the data it reads (the training split and
the evaluated split, by content: image list, labels, classes, GT boxes; the synthetic set's
generator key) and the evaluation options. A workdir whose `result.json` carries the same
identity is reused as is. Otherwise training decides (`wsol_tf.training.workdir`): the same
run unfinished resumes from its last checkpoint, the same run finished is only evaluated
again, and another run is moved aside (`<workdir>.replaced-<time>`, never deleted unless
`replace="delete"`) before training starts, so a stale result is never reported under a new
config. A folder that holds files but no run is never moved or deleted, and a run is trained,
evaluated and written by one process at a time (the workdir's lock, `wsol_tf.training.lock`).

Library code: explicit arguments, no FLAGS.
"""

from __future__ import annotations

import json
import os
import statistics
import time

from wsol_tf.files import check_writable, read_json, write_json
from wsol_tf.training.lock import LOCK_FILE
from wsol_tf.training.workdir import move_aside, remove_run, writer

RESULT_FILE = "result.json"
METRIC_KEYS = ("top1_clas", "gt_known_loc", "top1_loc", "maxboxacc_v2")
__all__ = ["RESULT_FILE", "data_identity", "identity", "move_aside", "run_config"]


def data_identity(config, split="test") -> dict:
    """The data a run's result depends on: its training split and the evaluated `split`, by
    content (`wsol_tf.training.workdir.data_identity`)."""
    from wsol_tf.data.datasets import load_split
    from wsol_tf.training.workdir import data_identity as split_identity

    options = config.split_options()
    train = load_split(config.dataset, config.data_dir, "train", **options)
    evaluated = load_split(config.dataset, config.data_dir, split, **options)
    return {
        "train": split_identity(config.dataset, train),
        split: split_identity(config.dataset, evaluated, with_boxes=True),
    }


# Config fields that permit reading the data but change nothing computed from it (the data's
# own identity is compared by content): a run finished before such a field existed is reused.
NOT_RESULTS = ("follow_outside_links",)
# Fields added after results existed: left out of the identity while at these defaults, so a
# run finished before they existed (its results are those of the default) is still found.
ADDED_WITH_DEFAULT = {"optimizer": "sgd", "freeze_through": None, "label_smoothing": 0.0}


def identity(config, evaluation: dict | None = None) -> dict:
    """What a run's results depend on besides the code: config, data, evaluation options."""
    evaluation = dict(evaluation or {})
    settings = json.loads(config.to_json())
    for name in NOT_RESULTS:
        settings.pop(name, None)
    for name, default in ADDED_WITH_DEFAULT.items():
        if settings.get(name, default) == default:
            settings.pop(name, None)
    value = {
        "config": settings,
        "data": data_identity(config, evaluation.get("split", "test")),
    }
    if evaluation:
        value["evaluation"] = dict(sorted(evaluation.items()))
    return value


def finished_result(config, evaluation=None, extra_splits=()):
    """The result of this very run when it is finished in its workdir, else None."""
    evaluation = dict(evaluation or {})
    wanted = identity(config, {**evaluation, **({"extra_splits": list(extra_splits)}
                                                if extra_splits else {})})  # fmt: skip
    result = read_json(os.path.join(config.workdir, RESULT_FILE))
    if result is not None and result.get("identity") == wanted:
        return {**_timed(result, config.workdir), "reused": True}
    return None


def run_config(
    config,
    *,
    evaluation: dict | None = None,
    extra_splits: tuple = (),
    fresh: bool = False,
    replace: str = "move",
    threads: int = 0,
    on_divergence: str = "raise",
    print_fn=print,
    train_print_fn=None,
) -> dict:
    """Trains (or resumes) and evaluates one config; reuses a finished identical run.

    Args:
        config: a `TrainConfig` (its workdir is the run's folder).
        evaluation: keyword arguments of `wsol_tf.evaluation.evaluate` (cam, cam_threshold,
            split, ...); part of the run's identity.
        extra_splits: more splits to evaluate (e.g. "val", the split carved from the training
            images with `val_per_class`, to choose thresholds and hyperparameters without
            touching test); their metrics go to result["splits"][name].
        fresh: train again even when a finished identical run exists (its folder is moved
            aside or deleted, as `replace` says).
        replace: "move" (default) or "delete" a workdir that holds another run; a folder
            that holds no run is refused (`RunMismatch`), one another live process writes
            too (`WorkdirBusy`), and either is left as it is.
        threads: TensorFlow intra/inter-op threads (0: TensorFlow's default).
        on_divergence: "raise" (default) the trainer's FloatingPointError, or "record" it:
            result.json then holds "diverged" (the message), the metrics as None and the
            seconds trained, so a comparison goes on, reports the row as diverged, and a
            later call reuses the record instead of diverging again.
        print_fn: this function's own lines.
        train_print_fn: the training loop's progress lines (default `print_fn`).

    Returns:
        result.json's dict: identity, config, every metric of metrics.json, train_seconds
        (summed over epochs, so a resumed run counts each epoch once; an epoch that spanned
        a stopped process counts as the run's median epoch: `train_time`),
        train_seconds_wall, paused_epochs, evaluate_seconds,
        train_accuracy, num_test_images, overlays, workdir, reused; "diverged" (a message)
        for a recorded divergence.
    """
    if replace not in ("move", "delete"):
        raise ValueError(f"replace={replace!r}: valid: move, delete.")
    if on_divergence not in ("raise", "record"):
        raise ValueError(f"on_divergence={on_divergence!r}: valid: raise, record.")
    config.validate()
    check_writable(config.workdir, "workdir")
    evaluation = dict(evaluation or {})
    wanted = identity(config, {**evaluation, **({"extra_splits": list(extra_splits)}
                                                 if extra_splits else {})})  # fmt: skip
    workdir = config.workdir
    if not fresh:
        previous = read_json(os.path.join(workdir, RESULT_FILE))
        if previous is not None and previous.get("identity") == wanted:
            if previous.get("diverged") and on_divergence == "raise":
                raise FloatingPointError(previous["diverged"])
            return {**_timed(previous, workdir), "reused": True}
    # One writer per run, from the removal of an earlier run to result.json (`train` takes
    # the same lock again inside: it is re-entrant).
    with writer(workdir, "workdir"):
        if fresh and _entries(workdir):
            # Only a run is removed: files that are no run are refused and kept.
            remove_run(workdir, replace, print_fn, why="--fresh: the earlier run", what="workdir")
        return _train_and_evaluate(
            config, wanted, evaluation, extra_splits, replace, threads, on_divergence,
            print_fn, train_print_fn,
        )  # fmt: skip


def _entries(folder):
    """The entries of `folder` besides a writer's lock ([] when it does not exist)."""
    if not os.path.isdir(folder):
        return []
    return [name for name in os.listdir(folder) if name != LOCK_FILE]


def _train_and_evaluate(
    config, wanted, evaluation, extra_splits, replace, threads, on_divergence, print_fn,
    train_print_fn,
):  # fmt: skip
    """`run_config`'s work under the run's lock: train (or resume), evaluate, result.json."""
    workdir = config.workdir
    import keras
    import tensorflow as tf

    from wsol_tf import evaluation as evaluation_lib
    from wsol_tf import training

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # TensorFlow already started in this process: keep its pool
    keras.backend.clear_session()
    try:
        training.train(config, resume=True, print_fn=train_print_fn or print_fn, replace=replace)
    except FloatingPointError as error:
        if on_divergence == "raise":
            raise
        result = diverged_result(config, wanted, str(error))
        write_json(os.path.join(workdir, RESULT_FILE), result)
        return result
    started = time.perf_counter()
    metrics = evaluation_lib.evaluate(workdir, print_fn=lambda _: None, **evaluation)
    evaluate_seconds = time.perf_counter() - started
    splits = {}
    for split in extra_splits:
        out_dir = os.path.join(workdir, f"eval_{split}")
        splits[split] = evaluation_lib.evaluate(
            workdir, print_fn=lambda _: None, **{**evaluation, "split": split, "out_dir": out_dir}
        )
    epochs = _epochs(workdir)
    result = {
        **metrics,
        "workdir": workdir,
        "config": json.loads(config.to_json()),
        "identity": wanted,
        "train_accuracy": epochs[-1].get("accuracy") if epochs else None,
        **_train_time(epochs),
        "evaluate_seconds": evaluate_seconds,
        "num_test_images": metrics.get("num_images"),
        "overlays": metrics.get("overlays"),
        "splits": splits,
        "reused": False,
    }
    write_json(os.path.join(workdir, RESULT_FILE), result)
    return result


def add_readout(config, result, print_fn=print):
    """`result` with "readout": the read-out chosen on the run's val split
    (`evaluation.readout.choose`) and the test metrics at it (extractor and threshold), added
    to a finished run's result.json without training (computed once, then read back).

    Returns `result` unchanged for a diverged run or one without a val split.
    """
    if result.get("readout") or result.get("diverged") or not config.val_per_class:
        return result
    from wsol_tf import evaluation as evaluation_lib
    from wsol_tf.evaluation import readout as readouts
    from wsol_tf.evaluation.extractors.spec import CamSpec

    workdir = config.workdir
    with writer(workdir, "workdir"):
        started = time.perf_counter()
        choice = readouts.choose(workdir, reuse=True, print_fn=lambda _: None)
        metrics = evaluation_lib.evaluate(
            workdir, checkpoint=choice["checkpoint"], cam=CamSpec(), cam_threshold=None,
            readout="default", out_dir=os.path.join(workdir, "eval_readout"),
            print_fn=lambda _: None,
        )  # fmt: skip
        val = [{k: r[k] for k in ("cam", "maxboxacc_v2", "gt_known_loc", "threshold")}
               for r in choice["candidates"]]  # fmt: skip
        result = {
            **result,
            "readout": {
                "cam": choice["cam"], "cam_spec": choice["cam_spec"],
                "threshold": choice["threshold"], "val_candidates": val,
                **{k: metrics.get(k) for k in METRIC_KEYS},
                "overlays": metrics.get("overlays"),
                "seconds": time.perf_counter() - started,
            },
        }  # fmt: skip
        write_json(os.path.join(workdir, RESULT_FILE), result)
    print_fn(f"read-out of {workdir}: {choice['cam']} at {choice['threshold']:g} (chosen on val)")
    return result


def _epochs(workdir):
    return read_json(os.path.join(workdir, "train_log.json")) or []


PAUSE_FACTOR = 5.0


def train_time(epoch_seconds):
    """(train seconds, paused epochs) of one run from its epochs' wall seconds.

    Summed over epochs, so a resumed run counts each epoch once. An epoch longer than
    `PAUSE_FACTOR` x the run's median epoch counts as that median: its process was stopped
    meanwhile (a session that ended with the run in it, a SIGSTOP for a quiet measurement),
    and wall time cannot tell that from work. E.g. [20, 22, 650, 24] -> (89, 1).
    """
    seconds = [float(s) for s in epoch_seconds]
    if not seconds:
        return 0.0, 0
    median = statistics.median(seconds)
    paused = [s > PAUSE_FACTOR * median for s in seconds] if median > 0 else [False] * len(seconds)
    total = sum(median if stopped else s for s, stopped in zip(seconds, paused, strict=True))
    return float(total), int(sum(paused))


def _train_time(epochs):
    """result.json's time fields: "train_seconds" (`train_time`), "train_seconds_wall" (the
    plain sum) and "paused_epochs"."""
    seconds = [e.get("seconds", 0.0) for e in epochs]
    total, paused = train_time(seconds)
    return {
        "train_seconds": total,
        "train_seconds_wall": float(sum(seconds)),
        "paused_epochs": paused,
    }


def _timed(result, workdir):
    """A result.json written before "paused_epochs" existed, with its time fields recomputed
    from the run's train_log.json (kept as read when there is none)."""
    if "paused_epochs" in result:
        return result
    epochs = _epochs(workdir)
    return {**result, **_train_time(epochs)} if epochs else result


def diverged_result(config, wanted, message) -> dict:
    """result.json of a run whose loss diverged: no metrics, what it trained, the message."""
    epochs = _epochs(config.workdir)
    return {
        **dict.fromkeys(METRIC_KEYS),
        "diverged": message,
        "workdir": config.workdir,
        "config": json.loads(config.to_json()),
        "identity": wanted,
        "train_accuracy": epochs[-1].get("accuracy") if epochs else None,
        **_train_time(epochs),
        "evaluate_seconds": 0.0,
        "num_test_images": None,
        "overlays": None,
        "splits": {},
        "reused": False,
    }
