"""`run_pseudo_box`: a finished WSOL run -> pseudo-boxes -> regressor trials -> the one chosen on
validation -> its boxes scored on test; the folder it fills is a `--workdir` of `localize` and
`export`.

What the folder holds: `pseudo_box.json` (the manifest, `manifest`), `metrics.json` (written
last), `pseudo_boxes.json` (the training boxes), `trials/<name>/regressor.*` (each trial's
weights) and `overlays.png` (test images, GT red, predicted green).

TensorFlow is imported inside `run_pseudo_box` only: `check_inputs` refuses bad arguments and
files first, naming the flag or file.
"""

from __future__ import annotations

import dataclasses
import os
import time

from wsol_tf.files import check_pattern_free, check_writable, write_json
from wsol_tf.pseudo_box.manifest import MANIFEST_FILE, write_manifest

# Two learning rates of Adam on the run's backbone (frozen as the run froze it), 30 epochs.
# Chosen on validation (CUB mini, the seed-2 CAM run of the recipe table, 200 pseudo-boxes):
# at 10 epochs lr 1e-3 reached val GT-known 49.0 and 1e-4 76.0, its loss still falling; at 30
# epochs 1e-4 and 3e-4 both reached 87.0.
DEFAULT_TRIALS = ({"name": "lr_1e-4", "lr": 1e-4}, {"name": "lr_3e-4", "lr": 3e-4})
DEFAULT_EPOCHS = 30
TRIAL_KEYS = ("name", "lr", "freeze_through")
# What a pseudo-box folder holds: a non-empty --out holding anything else is refused.
OUTPUTS = (MANIFEST_FILE, "metrics.json", "pseudo_boxes.json", "trials", "overlays.png")
SELECTION_METRIC = "gt_known_loc"
MAX_SEED = 2**32 - 1


def make_trials(trials, run_freeze_through=None) -> list[dict]:
    """Validated trials: each {"name", "lr", "freeze_through"} (default: the run's)."""
    trials = list(trials or ())
    if not trials:
        raise ValueError("--lrs: give at least one trial (a learning rate).")
    out = []
    for index, trial in enumerate(trials):
        unknown = sorted(set(trial) - set(TRIAL_KEYS))
        if unknown:
            raise ValueError(f"trial {index}: unknown key {unknown[0]!r} (keys: {TRIAL_KEYS}).")
        lr = trial.get("lr")
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < 10:
            raise ValueError(f"--lrs: learning rate {lr!r} must be a number in (0, 10).")
        name = str(trial.get("name") or f"lr_{lr:g}")
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"trial name {name!r}: letters, digits, '.', '-', '_' only.")
        out.append(
            {"name": name, "lr": float(lr),
             "freeze_through": trial.get("freeze_through", run_freeze_through)}
        )  # fmt: skip
    names = [t["name"] for t in out]
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        raise ValueError(f"--lrs: trial {twice[0]!r} is given twice.")
    return out


def check_inputs(run_workdir, out_dir, *, trials=DEFAULT_TRIALS, epochs=DEFAULT_EPOCHS,
                 batch_size=32, seed=0, num_pictures=8, steps_per_epoch=None,
                 checkpoint=None):  # fmt: skip
    """Everything that can refuse the work, without TensorFlow: (run config, trials).

    Raises:
        ValueError or FileNotFoundError naming the flag or the file.
    """
    from wsol_tf.runs.checkpoints import check_named_checkpoint, read_run

    if not run_workdir:
        raise ValueError("--run is required (a finished WSOL training workdir).")
    if not out_dir:
        raise ValueError("--out is required (the pseudo-box localizer's folder).")
    if not os.path.isdir(run_workdir):
        raise FileNotFoundError(f"--run={run_workdir}: no such folder")
    if not os.path.isfile(os.path.join(run_workdir, "config.json")):
        raise FileNotFoundError(f"--run={run_workdir}: no config.json (not a training workdir)")
    check_pattern_free(run_workdir, "--run")
    config, _ = read_run(run_workdir)  # config.json and classes.json, named when bad
    listing = os.path.join(run_workdir, "checkpoints", "checkpoint")
    if not os.path.isfile(listing):
        raise FileNotFoundError(f"--run={run_workdir}: no checkpoint ({listing} is missing)")
    if checkpoint:  # a typo named before TensorFlow, the splits and the model load
        check_named_checkpoint(checkpoint)
    if not config.val_per_class:
        raise ValueError(
            f"--run={run_workdir} was trained without a validation split: the pseudo-box "
            "trials are chosen on it; train with --val_per_class=N."
        )
    for flag, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1),
                             ("num_pictures", num_pictures, 0), ("seed", seed, 0)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"--{flag}={value} must be an integer >= {low}.")
    if seed > MAX_SEED:
        raise ValueError(f"--seed={seed} must be at most {MAX_SEED}.")
    if steps_per_epoch is not None and (
        isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int)
        or steps_per_epoch < 1
    ):  # fmt: skip
        raise ValueError(f"--steps_per_epoch={steps_per_epoch} must be an integer >= 1.")
    trials = make_trials(trials, config.freeze_through)
    if os.path.realpath(out_dir) == os.path.realpath(run_workdir):
        raise ValueError(f"--out={out_dir} is the WSOL run's folder; give another folder.")
    check_writable(check_pattern_free(out_dir, "--out"), "--out")
    if os.path.isdir(out_dir):
        others = sorted(set(os.listdir(out_dir)) - set(OUTPUTS))
        if others:
            raise ValueError(
                f"--out={out_dir} holds files that are not a pseudo-box localizer's (e.g. "
                f"{others[0]}); give a new or empty folder (an earlier result there is replaced)."
            )
    return config, trials


def _load_splits(config):
    """The run's train (its val images held out), val and test splits, file-backed."""
    from wsol_tf.data.datasets import load_split

    splits = {}
    for split in ("train", "val", "test"):
        records = load_split(config.dataset, config.data_dir, split, **config.split_options())
        if hasattr(records, "as_dataset"):
            raise ValueError(
                f"--run: dataset {config.dataset} is read through tfds; the pseudo-box "
                "localizer reads file-backed splits (cub, wsol_metadata, imagenet, folder)."
            )
        if split != "train" and not records.num_boxes.any():
            raise ValueError(f"{records.source}: split {split!r} has no GT box to score.")
        splits[split] = records
    return splits


def _pseudo_box_list(records, found):
    return [
        {"image": records.image_paths[row], "label": int(records.labels[row]),
         "box_input": [int(v) for v in box], "box_original": [round(float(v), 3) for v in orig]}
        for row, box, orig in zip(found.rows, found.boxes, found.original, strict=True)
    ]  # fmt: skip


def run_pseudo_box(run_workdir, out_dir, *, trials=DEFAULT_TRIALS, seed=0, epochs=DEFAULT_EPOCHS,
                   batch_size=32, steps_per_epoch=None, eval_batch_size=32, num_pictures=8,
                   checkpoint=None, print_fn=print) -> dict:  # fmt: skip
    """Trains and evaluates the pseudo-box localizer of a finished WSOL run; writes `out_dir`.

    Args:
        run_workdir: the WSOL run (config.json, classes.json, checkpoints; a val split).
        out_dir: the localizer's folder (an earlier result there is replaced).
        trials: dicts {"lr", optional "name", optional "freeze_through" (default: the run's)}.
        seed: seed of the regressor's head, data order and augmentation (deterministic for
            a seed on the same machine).
        epochs, batch_size, steps_per_epoch: each trial's training (steps_per_epoch caps an
            epoch); eval_batch_size: images per forward pass elsewhere.
        num_pictures: test images in overlays.png (0: none).
        checkpoint: the WSOL checkpoint (default: the run's latest intact one).
        print_fn: progress lines.

    Returns:
        The metrics dict written to `<out_dir>/metrics.json`.
    """
    config, trials = check_inputs(
        run_workdir, out_dir, trials=trials, epochs=epochs, batch_size=batch_size, seed=seed,
        num_pictures=num_pictures, steps_per_epoch=steps_per_epoch, checkpoint=checkpoint,
    )  # fmt: skip
    started = time.perf_counter()
    splits = _load_splits(config)  # annotations named before the model is built

    import keras
    import numpy as np
    import tensorflow as tf

    from wsol_tf.data.pipeline import skip_log_scope
    from wsol_tf.evaluation import readout
    from wsol_tf.evaluation.extractors import CamSpec, ScoreMapper
    from wsol_tf.evaluation.sources import FileEvalSource, original_size_hw
    from wsol_tf.files import write_folder_atomic
    from wsol_tf.pseudo_box import pseudo_labels, regressor, scoring
    from wsol_tf.pseudo_box.geometry import eval_geometry
    from wsol_tf.runs.checkpoints import load_model

    image_size, resize_size = eval_geometry(config)
    train, val, test = splits["train"], splits["val"], splits["test"]
    with skip_log_scope() as skip_log:
        model, _, checkpoint = load_model(run_workdir, checkpoint, train.num_classes)
        cam, threshold, source = readout.resolve(run_workdir, checkpoint, CamSpec(), None)
        print_fn(f"pseudo-boxes from {checkpoint}: {source} (threshold {threshold:g})")
        found = pseudo_labels.draw(
            ScoreMapper(model, cam),
            FileEvalSource(train).batches(
                np.arange(len(train)), image_size, resize_size, eval_batch_size,
                with_annotations=False,
            ),
            threshold, lambda row: original_size_hw(train.image_paths[row]), image_size,
            resize_size, print_fn=print_fn,
        )  # fmt: skip
        if len(found.rows) == 0:
            raise ValueError(
                f"{run_workdir}: no pseudo-box: the read-out {cam.describe()} at threshold "
                f"{threshold:g} leaves every training map empty."
            )
        # The first write: an earlier localizer in --out stays whole until here (a refusal
        # above loses nothing), then it is no localizer until the new manifest is written.
        for stale in (MANIFEST_FILE, "metrics.json"):
            if os.path.isfile(os.path.join(out_dir, stale)):
                os.remove(os.path.join(out_dir, stale))
        os.makedirs(out_dir, exist_ok=True)
        write_json(
            os.path.join(out_dir, "pseudo_boxes.json"),
            {"split": "train", "readout": source, "threshold": threshold,
             "boxes": _pseudo_box_list(train, found)},
        )  # fmt: skip
        # The regressor's training set: the pseudo-box replaces every GT box (none is read).
        pseudo = train.subset(found.rows)
        pseudo = dataclasses.replace(
            pseudo, boxes=found.original[:, None, :].astype(np.float32),
            num_boxes=np.ones(len(found.rows), np.int32), image_sizes=None, mask_paths=None,
            ignore_paths=None,
        )  # fmt: skip
        print_fn(f"{len(found.rows)} pseudo-boxes on {len(train)} training images "
                 f"({len(found.rows_empty)} empty maps left out)")  # fmt: skip

        val_source, test_source = FileEvalSource(val), FileEvalSource(test)
        val_rows, test_rows = val_source.candidate_rows(), test_source.candidate_rows()
        rows, regressors = [], {}
        for trial in trials:
            keras.utils.set_random_seed(seed)
            net = regressor.build_regressor(config.model, image_size, config.pretrained)
            regressor.freeze(net, trial["freeze_through"], config.freeze_batch_norm)
            print_fn(f"trial {trial['name']}: lr {trial['lr']:g}, frozen through "
                     f"{trial['freeze_through'] or 'nothing'}")  # fmt: skip
            trial_started = time.perf_counter()
            losses = regressor.train(
                net, pseudo, image_size=image_size, resize_size=resize_size,
                batch_size=batch_size, epochs=epochs, lr=trial["lr"], seed=seed,
                steps_per_epoch=steps_per_epoch, name=trial["name"], print_fn=print_fn,
            )  # fmt: skip
            seconds = time.perf_counter() - trial_started
            val_metrics, _ = scoring.score_split(
                net, None, val_source, val_rows, image_size=image_size,
                resize_size=resize_size, batch_size=eval_batch_size, print_fn=lambda *_: None,
            )  # fmt: skip
            folder = os.path.join(out_dir, "trials", trial["name"])
            write_folder_atomic(
                folder,
                lambda f, net=net: tf.train.Checkpoint(model=net).write(
                    os.path.join(f, "regressor")
                ),
            )
            rows.append({
                **trial, "epochs": epochs, "steps": losses.pop("steps"), "train_seconds": seconds,
                "final_losses": losses, "val_gt_known_loc": val_metrics["gt_known_loc"],
                "val_box_accuracy": val_metrics["box_accuracy"],
                "weights": os.path.join("trials", trial["name"], "regressor"),
            })  # fmt: skip
            regressors[trial["name"]] = net
            print_fn(f"trial {trial['name']}: val GT-known Loc {val_metrics['gt_known_loc']:.2f} "
                     f"({seconds:.0f} s of training)")  # fmt: skip
        best = max(range(len(rows)), key=lambda i: (rows[i]["val_gt_known_loc"], -i))
        chosen = rows[best]
        print_fn(f"chosen trial: {chosen['name']} (validation GT-known Loc "
                 f"{chosen['val_gt_known_loc']:.2f})")  # fmt: skip
        wsol_checkpoint = os.path.abspath(checkpoint)
        kept_in = os.path.abspath(os.path.join(run_workdir, "checkpoints"))
        if os.path.dirname(wsol_checkpoint) == kept_in:
            wsol_checkpoint = os.path.basename(wsol_checkpoint)  # found again if the run moves
        write_manifest(out_dir, {
            "wsol_run": os.path.abspath(run_workdir), "wsol_checkpoint": wsol_checkpoint,
            "regressor": chosen["weights"], "model": config.model,
            "image_size": list(image_size), "trial": chosen["name"],
        })  # fmt: skip

        metrics, per_image = scoring.score_split(
            regressors[chosen["name"]], model, test_source, test_rows, image_size=image_size,
            resize_size=resize_size, batch_size=eval_batch_size, print_fn=print_fn,
        )  # fmt: skip
        overlays = scoring.write_pictures(
            os.path.join(out_dir, "overlays.png"), test_source, per_image,
            image_size=image_size, resize_size=resize_size, num=num_pictures,
        )  # fmt: skip
    unreadable = skip_log.to_json()
    metrics = {
        "localizer": "pseudo_box",
        "dataset": config.dataset, "split": "test", "wsol_run": os.path.abspath(run_workdir),
        "checkpoint": checkpoint, "model": config.model, "method": config.method,
        **metrics,
        "maxboxacc_v2": None, "maxboxacc_v2_reason": scoring.MAXBOXACC_V2_REASON,
        "pseudo_boxes": {
            "split": "train", "readout": source, "cam": cam.describe(),
            "cam_spec": cam.to_dict(), "threshold": threshold, "num_images": len(train),
            "num_boxes": int(len(found.rows)), "num_empty": int(len(found.rows_empty)),
            "file": "pseudo_boxes.json",
        },
        "trials": rows, "chosen": chosen["name"],
        "chosen_by": f"validation {SELECTION_METRIC} (IoU >= {scoring.LOC_IOU})",
        "train_seconds": float(sum(r["train_seconds"] for r in rows)),
        "num_boxes_used": 0,
        "num_boxes_used_note": "GT boxes used to train the regressor: none (pseudo-boxes only); "
        "the val split's GT boxes choose the trial, as they choose the WSOL run's read-out",
        "regressor": {"backbone": config.model, "pretrained": config.pretrained,
                      "head": "global average pooling -> Dense(4) -> sigmoid (x0, y0, x1, y1)",
                      "loss": "L1 + (1 - GIoU)", "optimizer": "adam",
                      "augment": "resize, random crop, horizontal flip (box follows)"},
        "epochs": epochs, "batch_size": batch_size, "seed": seed,
        "image_size": list(image_size), "resize_size": list(resize_size),
        "overlays": overlays,
        "unreadable_files": unreadable["skipped"], "num_skipped": unreadable["num_skipped"],
        "seconds": time.perf_counter() - started,
    }  # fmt: skip
    write_json(os.path.join(out_dir, "metrics.json"), metrics)
    print_fn(f"wrote {os.path.join(out_dir, 'metrics.json')}")
    return metrics
