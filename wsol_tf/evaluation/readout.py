"""The read-out chosen on validation (`--cam=auto`): which score-map extractor, and which CAM
threshold, a trained run localizes with.

The same checkpoint localizes very differently under different extractors (RESULTS.md: on
fine-tuned EfficientNet-Lite0, Layer-CAM's MaxBoxAccV2 is 12.5 points above classic CAM's),
so the choice is made per run, on its held-out validation split (`--val_per_class`), never
on test: every candidate (`candidates`) is evaluated on "val", the best validation
MaxBoxAccV2 wins (ties: the earlier candidate, classic first), and its threshold is the one
of its best validation GT-known Loc. The choice is written next to the validation metrics,
`<workdir>/eval_val/readout.json`, for one checkpoint; `evaluate`, `localize` and `export`
use it by default (`resolve`) and say so.

Library code: explicit arguments, no FLAGS; TensorFlow only inside `choose`.
"""

from __future__ import annotations

import json
import os

import numpy as np

from wsol_tf.evaluation.chosen_threshold import (
    PAPER_THRESHOLD,
    best_threshold,
    validation_threshold,
)
from wsol_tf.evaluation.extractors.spec import CamSpec
from wsol_tf.files import read_json, write_atomic

READOUT_FILE = os.path.join("eval_val", "readout.json")
SELECTION_METRIC = "maxboxacc_v2"
# Extractors tried by `--cam=auto`, in tie-break order (Score-CAM is left out: one forward
# pass per channel makes it 10-60x slower than the others).
CANDIDATE_EXTRACTORS = ("classic", "gradcam", "gradcampp", "layercam", "eigencam")


def candidates(backbone_spec) -> list[CamSpec]:
    """The read-outs `--cam=auto` compares: each of `CANDIDATE_EXTRACTORS` at the feature
    map, plus Layer-CAM fused over the backbone's default method positions and its feature
    map (the layers a WSOL method reads, from mid-level to the last)."""
    specs = [CamSpec(name) for name in CANDIDATE_EXTRACTORS]
    layers = tuple(dict.fromkeys((*backbone_spec.default_positions, "features")))
    if len(layers) >= 2:
        specs.append(CamSpec("layercam", layers=layers))
    return specs


def pick(rows) -> int | None:
    """Index of the best row by validation MaxBoxAccV2 (the first of equals); None when no
    row has a number."""
    best = None
    for index, row in enumerate(rows):
        value = row.get(SELECTION_METRIC)
        if value is not None and (best is None or value > rows[best][SELECTION_METRIC]):
            best = index
    return best


def read_choice(workdir, checkpoint) -> dict | None:
    """The run's readout.json when it was chosen for `checkpoint` (matched by name, so a
    moved workdir still matches), else None (absent, unreadable or another checkpoint's)."""
    try:
        choice = read_json(os.path.join(workdir, READOUT_FILE))
    except (OSError, ValueError):
        return None
    if not isinstance(choice, dict) or "cam_spec" not in choice or "threshold" not in choice:
        return None
    if os.path.basename(choice.get("checkpoint") or "") != os.path.basename(checkpoint):
        return None
    return choice


def choose(workdir, checkpoint=None, *, specs=None, batch_size=32, cam_curve_interval=0.01,
           reuse=False, print_fn=print) -> dict:  # fmt: skip
    """Evaluates every candidate read-out on the run's "val" split, writes and returns the
    choice (readout.json's dict). `checkpoint` None: the latest kept; `reuse`: return the
    choice already made for that checkpoint, if any, without evaluating.

    Raises:
        ValueError naming `--val_per_class` when the run has no validation split.
    """
    from wsol_tf import models
    from wsol_tf.evaluation.api import evaluate
    from wsol_tf.runs.config import TrainConfig

    config = TrainConfig.load(workdir)
    if not config.val_per_class:
        raise ValueError(
            f"--cam=auto chooses on the validation split, and {workdir} was trained without "
            "one: train with --val_per_class=N (N training images per class held out), or "
            "give --cam=<extractor>."
        )
    if checkpoint is None:
        from wsol_tf.runs.checkpoints import kept_checkpoints

        kept = kept_checkpoints(os.path.join(workdir, "checkpoints"))
        checkpoint = kept[0] if kept else None
    if reuse and checkpoint is not None:
        made = read_choice(workdir, checkpoint)
        if made is not None:
            print_fn(f"read-out already chosen for {os.path.basename(checkpoint)}: {made['cam']}")
            return made
    specs = list(specs or candidates(models.spec(config.model)))
    rows = []
    for spec in specs:
        label = spec.describe().replace(" ", "").replace("/", "-")
        out_dir = os.path.join(workdir, "eval_val", "readout", label)
        metrics = evaluate(
            workdir, checkpoint=checkpoint, split="val", cam=spec, batch_size=batch_size,
            cam_curve_interval=cam_curve_interval, out_dir=out_dir, num_pictures=0,
            print_fn=lambda *_: None,
        )  # fmt: skip
        checkpoint = metrics["checkpoint"]  # the first evaluation resolved "latest": keep it
        threshold = best_threshold(metrics)
        rows.append({
            "cam": spec.describe(), "cam_spec": spec.to_dict(),
            SELECTION_METRIC: metrics[SELECTION_METRIC], "threshold": threshold,
            "gt_known_loc": at_threshold(metrics, threshold, "gt_known_loc"),
            "top1_loc": at_threshold(metrics, threshold, "top1_loc"),
            "metrics": os.path.relpath(os.path.join(out_dir, "metrics.json"), workdir),
        })  # fmt: skip
        print_fn(
            f"read-out {spec.describe()}: val MaxBoxAccV2 {rows[-1][SELECTION_METRIC]:.2f}, "
            f"GT-known Loc {rows[-1]['gt_known_loc']:.2f} at threshold {threshold:g}"
        )
    chosen = rows[pick(rows)]
    choice = {
        "checkpoint": checkpoint,
        "split": "val",
        "chosen_by": f"validation {SELECTION_METRIC}",
        "cam": chosen["cam"],
        "cam_spec": chosen["cam_spec"],
        "threshold": chosen["threshold"],
        "candidates": rows,
    }
    write_atomic(os.path.join(workdir, READOUT_FILE), json.dumps(choice, indent=1) + "\n")
    print_fn(f"chosen read-out: {chosen['cam']} at threshold {chosen['threshold']:g} "
             f"({os.path.join(workdir, READOUT_FILE)})")  # fmt: skip
    return choice


def at_threshold(metrics, threshold, key):
    """A curve metric at `threshold` (the fine curve's nearest point), else the headline."""
    curve = metrics.get("curve") or {}
    if curve.get("thresholds") and key in curve:
        index = int(np.argmin(np.abs(np.asarray(curve["thresholds"]) - threshold)))
        return float(curve[key][index])
    return float(metrics[key])


def resolve(workdir, checkpoint, cam, threshold=None, how="default"):
    """(CamSpec, threshold, where they come from) for a command.

    Args:
        workdir, checkpoint: the run and the checkpoint being used.
        cam: the `CamSpec` of the command's flags.
        threshold: `--threshold` when given, else None.
        how: "given" (--cam or an option was passed: that extractor; its threshold is the
            validation choice for it, else 0.2), "default" (nothing passed: the run's
            read-out when chosen for this checkpoint, else `cam`), or "auto" (the run's
            read-out, chosen now when missing: `choose`).
    """
    if how != "given":
        choice = read_choice(workdir, checkpoint)
        if choice is None and how == "auto":
            choice = choose(workdir, checkpoint)
        if choice is not None:
            spec = CamSpec(**choice["cam_spec"])
            where = f"the run's validation choice ({os.path.join(workdir, READOUT_FILE)})"
            if threshold is not None:
                return spec, float(threshold), f"{spec.describe()}: {where}; threshold: --threshold"
            return spec, float(choice["threshold"]), f"{spec.describe()} and threshold: {where}"
    if threshold is not None:
        return cam, float(threshold), f"{cam.describe()}; threshold: --threshold"
    chosen = validation_threshold(workdir, cam.to_dict(), checkpoint)
    if chosen is not None:
        return cam, chosen[0], f"{cam.describe()}; threshold chosen on validation ({chosen[1]})"
    hint = ""
    if how == "default":
        hint = (" (no read-out chosen on validation for this checkpoint: `python -m "
                "wsol_tf.evaluate --workdir=... --cam=auto` chooses one)")  # fmt: skip
    return cam, PAPER_THRESHOLD, f"{cam.describe()}; threshold: the paper's {PAPER_THRESHOLD}{hint}"
