"""`run_fsl`: the few-shot fully supervised baseline of a finished WSOL run, end to end.

What can refuse the work is checked first, without TensorFlow (`prepare`): the run's folder,
config.json, classes.json and checkpoints (and a --checkpoint given), the output folder (not
the run's own), the trials, the backbone's weights, and the run's validation and evaluated
splits (annotations only). Then the FSL head is trained on half of the run's boxed
validation images (`wsol_tf.fsl.split`), each trial is scored on the other half by the
evaluator (GT-known numbers; its MaxBoxAccV2 picks the trial, its best GT-known Loc the CAM
threshold), and the chosen head is evaluated on the test split by the same evaluator as every
WSOL method, with the WSOL run's class predictions (its classifier at its checkpoint) for
Top-1 Clas and Top-1 Loc. metrics.json is written last and atomically: a killed run leaves
none (or the previous one).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import time

from wsol_tf.data.datasets import load_split
from wsol_tf.files import check_pattern_free, check_writable
from wsol_tf.fsl import split as splits
from wsol_tf.fsl.trials import DEFAULT_TRIALS, check_trials, cut_position

SELECTION_METRIC = "maxboxacc_v2"


@dataclasses.dataclass
class Prepared:
    """What `prepare` checked and read: the run's config and classes, its validation split
    with the head/selection rows, and the evaluated split."""

    run_workdir: str
    out_dir: str
    config: object
    class_names: list
    val: object
    head_rows: object
    select_rows: object
    test: object
    trials: tuple
    cut: str | None


def prepare(run_workdir, out_dir, *, trials=DEFAULT_TRIALS, split="test", checkpoint=None):
    """Checks everything that can refuse the work, before TensorFlow; returns `Prepared`.

    Raises:
        ValueError or FileNotFoundError naming the flag (--run, --out, --checkpoint) or the
        file; --out may not be the run's folder.
    """
    from wsol_tf import models
    from wsol_tf.runs.checkpoints import check_named_checkpoint, class_names
    from wsol_tf.runs.config import TrainConfig, check_pretrained_file

    if not run_workdir:
        raise ValueError("--run is required: the workdir of a finished WSOL training run.")
    if split == "val":  # scored on the images it learnt and chose on: no held-out number
        raise ValueError(
            "--split=val: the FSL head trains on half of the run's val split and is chosen on "
            "the other half; evaluate it on another split (default: test)."
        )
    if not out_dir:
        raise ValueError("--out is required: the folder metrics.json and the pictures go to.")
    if not os.path.isdir(run_workdir):
        raise FileNotFoundError(f"--run={run_workdir}: no such folder.")
    if not os.path.isfile(os.path.join(run_workdir, "config.json")):
        raise FileNotFoundError(
            f"--run={run_workdir}: no config.json (not a training workdir; give the folder "
            "`python -m wsol_tf.train --workdir=...` wrote)."
        )
    check_pattern_free(run_workdir, "--run")
    config = TrainConfig.load(run_workdir)
    names = class_names(run_workdir)
    if names is None:
        raise FileNotFoundError(f"--run={run_workdir}: no classes.json (has the run started?).")
    checkpoint_dir = os.path.join(run_workdir, "checkpoints")
    if not glob.glob(os.path.join(checkpoint_dir, "ckpt-*.index")):
        raise FileNotFoundError(
            f"--run={run_workdir}: no checkpoint in {checkpoint_dir} (has the run finished?); "
            "its classifier gives the FSL row's Top-1 Clas and Top-1 Loc."
        )
    if checkpoint:  # used after the heads are trained: a typo is named before that
        check_named_checkpoint(checkpoint)
    if os.path.realpath(out_dir) == os.path.realpath(run_workdir):
        # Its metrics.json and pictures would replace those `evaluate` wrote there.
        raise ValueError(f"--out={out_dir} is the WSOL run's folder; give another folder.")
    check_writable(out_dir, "--out")
    trials = check_trials(trials)
    spec = models.spec(config.model)
    cut = cut_position(spec)
    if cut is None and any(t.tune == "last_stage" for t in trials):
        raise ValueError(
            f"--model={config.model}: fewer than two default positions, so no last stage to "
            "fine-tune; use head-only trials."
        )
    if not any(t.tune == "last_stage" for t in trials):
        cut = None
    check_pretrained_file(config.model, config.pretrained)
    options = config.split_options()
    try:
        val = load_split(config.dataset, config.data_dir, "val", **options)
    except (ValueError, FileNotFoundError) as error:
        raise ValueError(
            f"--run={run_workdir}: no validation split to train the FSL head on ({error}); "
            "train the WSOL run with --val_per_class=N."
        ) from None
    if hasattr(val, "as_dataset"):
        raise ValueError(f"--run={run_workdir}: {config.dataset} is read through tfds; FSL "
                         "needs a file-backed validation split with boxes.")  # fmt: skip
    head_rows, select_rows = splits.split_per_class(val.labels, val.image_ids, val.num_boxes)
    if len(head_rows) == 0 or len(select_rows) == 0:
        raise ValueError(
            f"--run={run_workdir}: {val.source} has {int((val.num_boxes >= 1).sum())} images "
            "with a GT box; FSL needs at least 2 in a class (one trains, one chooses)."
        )
    test = load_split(config.dataset, config.data_dir, split, **options)
    num_boxes = getattr(test, "num_boxes", None)
    if num_boxes is not None and not num_boxes.any():
        raise ValueError(f"{config.dataset} split {split!r} has no GT boxes to evaluate on.")
    if test.num_classes != len(names):
        raise ValueError(
            f"--run={run_workdir}: classes.json names {len(names)} classes but {test.source} "
            f"has {test.num_classes}."
        )
    return Prepared(run_workdir, out_dir, config, names, val, head_rows, select_rows, test,
                    trials, cut)  # fmt: skip


def run_fsl(
    run_workdir,
    out_dir,
    *,
    trials=DEFAULT_TRIALS,
    seed=None,
    checkpoint=None,
    split="test",
    batch_size=32,
    cam_curve_interval=0.001,
    num_pictures=8,
    workers=None,
    print_fn=print,
):
    """Trains and evaluates the FSL baseline of a finished WSOL run; writes and returns
    metrics.json's dict.

    Split: the run's "val" images (``--val_per_class`` per class, carved from the training
    images), per class sorted by image id and alternating: the 1st, 3rd, ... train the head,
    the 2nd, 4th, ... choose the trial and the CAM threshold (e.g. 25 classes x 10: 125 +
    125). Its metrics.json has the evaluator's keys (Top-1 Clas and Top-1 Loc from the WSOL
    run's classifier at ``checkpoint``, None: its latest) plus ``num_boxes_used`` (the
    head-training images), ``fsl_split``, ``trials`` (each one's selection numbers),
    ``chosen``, ``train_seconds`` and ``seed``.

    Args:
        run_workdir: the WSOL run (config.json, classes.json, checkpoints/).
        out_dir: where metrics.json and the pictures go.
        trials: `wsol_tf.fsl.Trial`s (default: head only, and head + last stage).
        seed: seed of the heads' init, shuffles and flips; None: the run's seed.
        checkpoint: the WSOL checkpoint whose classifier predicts classes; None: latest.
        split: the evaluated split.
        batch_size: images per forward pass when reading and evaluating.
        cam_curve_interval, num_pictures, workers: as for `wsol_tf.evaluation.evaluate`.
        print_fn: progress lines.
    """
    started = time.perf_counter()
    prepared = prepare(run_workdir, out_dir, trials=trials, split=split, checkpoint=checkpoint)
    config = prepared.config
    seed = config.seed if seed is None else int(seed)

    from wsol_tf.data.pipeline import skip_log_scope
    from wsol_tf.evaluation.api import write_metrics
    from wsol_tf.evaluation.chosen_threshold import PAPER_THRESHOLD, best_threshold
    from wsol_tf.evaluation.evaluator import evaluate_scorer
    from wsol_tf.evaluation.extractors import ScoreMapper
    from wsol_tf.evaluation.readout import at_threshold, pick
    from wsol_tf.fsl import network
    from wsol_tf.runs.checkpoints import load_model

    num_classes = len(prepared.class_names)
    val, head_rows, select_rows = prepared.val, prepared.head_rows, prepared.select_rows
    described = splits.describe(val.labels, head_rows, select_rows)
    print_fn(
        f"FSL on {config.dataset} ({config.model}, weights {config.pretrained or 'random'}): "
        f"{len(head_rows)} val images train the head, {len(select_rows)} choose ({splits.RULE})"
    )
    geometry = {"image_size": config.image_size, "resize_size": config.eval_resize_size}
    with skip_log_scope() as skip_log:
        net = network.FslNetwork(config, prepared.cut)
        data = network.head_data(
            net, val.subset(head_rows, source=f"{val.source} (FSL head)"),
            resize_size=config.eval_resize_size, batch_size=batch_size, print_fn=print_fn,
        )  # fmt: skip
        select_records = val.subset(select_rows, source=f"{val.source} (FSL selection)")
        rows, weights, train_seconds = [], [], 0.0
        for index, trial in enumerate(prepared.trials):
            trained = network.train_trial(net, data, trial, seed=seed + index, print_fn=print_fn)
            train_seconds += trained["seconds"]
            selection = evaluate_scorer(
                network.FslScorer(net, num_classes), select_records, **geometry,
                batch_size=batch_size, cam_threshold=PAPER_THRESHOLD,
                cam_curve_interval=cam_curve_interval, workers=workers, print_fn=lambda _: None,
            )  # fmt: skip
            threshold = best_threshold(selection)
            rows.append({
                "name": trial.name, "settings": trial.to_dict(),
                SELECTION_METRIC: selection[SELECTION_METRIC], "threshold": threshold,
                "gt_known_loc": at_threshold(selection, threshold, "gt_known_loc"),
                "final_loss": trained["final_loss"], "train_seconds": trained["seconds"],
            })  # fmt: skip
            weights.append(net.weights())
            print_fn(
                f"FSL trial {trial.name}: selection MaxBoxAccV2 {rows[-1][SELECTION_METRIC]:.2f}, "
                f"GT-known Loc {rows[-1]['gt_known_loc']:.2f} at threshold {threshold:g}"
            )
        best = pick(rows)
        chosen = rows[best]
        net.set_weights(weights[best])
        print_fn(f"FSL chose {chosen['name']} at threshold {chosen['threshold']:g}; evaluating "
                 f"on {split} with the WSOL run's classifier")  # fmt: skip
        model, _, checkpoint = load_model(run_workdir, checkpoint, num_classes)
        scorer = network.FslScorer(net, num_classes, classifier=ScoreMapper(model))
        metrics = evaluate_scorer(
            scorer, prepared.test, **geometry, batch_size=batch_size,
            cam_threshold=chosen["threshold"], cam_curve_interval=cam_curve_interval,
            out_dir=out_dir, num_overlays=num_pictures, workers=workers, print_fn=print_fn,
        )  # fmt: skip
    metrics.update({
        "dataset": config.dataset, "split": split, "checkpoint": checkpoint,
        "model": config.model, "method": "fsl", "classifier_method": config.method,
        "cam": "fsl_head", "cam_spec": None, "wsol_run": os.path.abspath(run_workdir),
        "pretrained": config.pretrained,
        "num_boxes_used": data.num_images, "num_gt_boxes_used": data.num_gt_boxes,
        "fsl_split": described, "trials": rows,
        "chosen": {"name": chosen["name"], "threshold": chosen["threshold"],
                   "chosen_by": f"selection part {SELECTION_METRIC}"},
        "train_seconds": train_seconds, "total_seconds": time.perf_counter() - started,
        "seed": seed,
    })  # fmt: skip
    unreadable = skip_log.to_json()
    metrics["unreadable_files"] = unreadable["skipped"]
    metrics["num_skipped"] = metrics.get("num_skipped", 0) + unreadable["num_skipped"]
    write_metrics(out_dir, metrics)
    return metrics
