"""The one runner: train and evaluate one config in its workdir, or reuse it when done.

`make demo`, `python -m wsol_tf.sweep` and `make reproduce` all call `run_config`. A run is
keyed by its identity: the full TrainConfig, the data it reads and the evaluation options.
A workdir whose `result.json` carries the same identity is reused as is; one holding the same
run unfinished resumes from its last checkpoint; one holding another run is moved aside
(`<workdir>.replaced-<time>`, never deleted unless `replace="delete"`) before training
starts, so a stale result is never reported under a new config.

Library code: explicit arguments, no FLAGS.
"""

from __future__ import annotations

import json
import os
import shutil
import time

from wsol_tf.files import read_json, write_json

RESULT_FILE = "result.json"
IDENTITY_FILE = "identity.json"


def data_identity(config) -> str:
    """What names the data a run reads: the synthetic generator's cache key (so a changed
    generator default is not mistaken for earlier data), else the data folder."""
    if config.dataset == "synthetic":
        from wsol_tf.data import synthetic

        return synthetic.cache_key()
    return config.data_dir


def identity(config, evaluation: dict | None = None) -> dict:
    """What a run's results depend on besides the code: config, data, evaluation options."""
    value = {"config": json.loads(config.to_json()), "data": data_identity(config)}
    if evaluation:
        value["evaluation"] = dict(sorted(evaluation.items()))
    return value


def move_aside(workdir: str) -> str:
    """Renames `workdir` to `<workdir>.replaced-<YYYYmmdd-HHMMSS>[-n]`; returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = f"{workdir.rstrip(os.sep)}.replaced-{stamp}", 1
    while os.path.exists(target):
        target, n = f"{workdir.rstrip(os.sep)}.replaced-{stamp}-{n}", n + 1
    os.replace(workdir, target)
    return target


def prepare_workdir(workdir, wanted, replace="move", print_fn=print):
    """The earlier result of this very run, or None after making the workdir ready for it.

    Args:
        workdir: the run's folder.
        wanted: the run's `identity`.
        replace: what to do with a workdir that holds another run (or with a finished one
            when `fresh`): "move" it aside or "delete" it.
        print_fn: where the move is reported.
    """
    result = read_json(os.path.join(workdir, RESULT_FILE))
    if result is not None and result.get("identity") == wanted:
        return result
    started = read_json(os.path.join(workdir, IDENTITY_FILE))
    if started != wanted and os.path.isdir(workdir) and os.listdir(workdir):
        if replace == "delete":
            shutil.rmtree(workdir)
        else:
            print_fn(f"{workdir} holds another run: moved to {move_aside(workdir)}")
    os.makedirs(workdir, exist_ok=True)
    write_json(os.path.join(workdir, IDENTITY_FILE), wanted)
    return None


def finished_result(config, evaluation=None, extra_splits=()):
    """The result of this very run when it is finished in its workdir, else None."""
    evaluation = dict(evaluation or {})
    wanted = identity(config, {**evaluation, **({"extra_splits": list(extra_splits)}
                                                if extra_splits else {})})  # fmt: skip
    result = read_json(os.path.join(config.workdir, RESULT_FILE))
    if result is not None and result.get("identity") == wanted:
        return {**result, "reused": True}
    return None


def run_config(
    config,
    *,
    evaluation: dict | None = None,
    extra_splits: tuple = (),
    fresh: bool = False,
    replace: str = "move",
    threads: int = 0,
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
        fresh: train again even when a finished identical run exists.
        replace: "move" (default) or "delete" a workdir that holds another run.
        threads: TensorFlow intra/inter-op threads (0: TensorFlow's default).
        print_fn: this function's own lines.
        train_print_fn: the training loop's progress lines (default `print_fn`).

    Returns:
        result.json's dict: identity, config, every metric of metrics.json, train_seconds
        (summed over epochs, so a resumed run counts each epoch once), evaluate_seconds,
        train_accuracy, num_test_images, overlays, workdir, reused.
    """
    config.validate()
    evaluation = dict(evaluation or {})
    wanted = identity(config, {**evaluation, **({"extra_splits": list(extra_splits)}
                                                 if extra_splits else {})})  # fmt: skip
    workdir = config.workdir
    if fresh and os.path.isdir(workdir):
        if replace == "delete":
            shutil.rmtree(workdir)
        else:
            print_fn(f"--fresh: {workdir} moved to {move_aside(workdir)}")
    previous = prepare_workdir(workdir, wanted, replace, print_fn)
    if previous is not None:
        return {**previous, "reused": True}
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
    training.train(config, resume=True, print_fn=train_print_fn or print_fn)
    started = time.perf_counter()
    metrics = evaluation_lib.evaluate(workdir, print_fn=lambda _: None, **evaluation)
    evaluate_seconds = time.perf_counter() - started
    splits = {}
    for split in extra_splits:
        out_dir = os.path.join(workdir, f"eval_{split}")
        splits[split] = evaluation_lib.evaluate(
            workdir, print_fn=lambda _: None, **{**evaluation, "split": split, "out_dir": out_dir}
        )
    epochs = read_json(os.path.join(workdir, "train_log.json")) or []
    result = {
        **metrics,
        "workdir": workdir,
        "config": json.loads(config.to_json()),
        "identity": wanted,
        "train_accuracy": epochs[-1].get("accuracy") if epochs else None,
        "train_seconds": float(sum(e.get("seconds", 0.0) for e in epochs)),
        "evaluate_seconds": evaluate_seconds,
        "num_test_images": metrics.get("num_images"),
        "overlays": metrics.get("overlays"),
        "splits": splits,
        "reused": False,
    }
    write_json(os.path.join(workdir, RESULT_FILE), result)
    return result
