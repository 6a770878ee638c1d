"""The CAM threshold a run chose on its own validation split, for the commands that draw one
box per image (`wsol_tf.localize`, `wsol_tf.export`; `wsol_tf.evaluation.readout.resolve`
falls back to it when the run has no read-out chosen on validation).

The box of a CAM depends on the threshold, and the best threshold differs per method and
backbone (0.1-0.6 in RESULTS.md), so 0.2 (the paper's) is only the fallback: when the run
was evaluated on its held-out validation split (`--val_per_class`; `make reproduce` does it,
or `python -m wsol_tf.evaluate --workdir=W --split=val --out_dir=W/eval_val`), the threshold
best on validation is used. Test is never looked at. A validation result counts only for
the same checkpoint and the same score-map extractor (`--cam` and its options).

Pure functions of files; no FLAGS.
"""

from __future__ import annotations

import json
import os

import numpy as np

from wsol_tf.files import read_json

PAPER_THRESHOLD = 0.2
# Where the validation metrics of a run are looked for, in order.
VALIDATION_METRICS = ("eval_val/metrics.json", "metrics.json")


def best_threshold(metrics) -> float:
    """The threshold of the highest GT-known Loc in a metrics.json (its fine curve when it has
    one; the lowest threshold on ties)."""
    curve = metrics.get("curve")
    if curve and curve.get("thresholds"):
        return float(curve["thresholds"][int(np.argmax(curve["gt_known_loc"]))])
    return float(metrics["best_threshold"])


def validation_threshold(workdir, cam_spec: dict, checkpoint: str):
    """(threshold, metrics.json path) of the run's validation evaluation that matches
    `checkpoint` (by name, so a moved workdir still matches) and `cam_spec`
    (`CamSpec.to_dict()`), or None when there is none."""
    wanted_cam = json.loads(json.dumps(cam_spec))  # tuples as JSON stores them
    for name in VALIDATION_METRICS:
        path = os.path.join(workdir, name)
        try:
            metrics = read_json(path)
        except (OSError, ValueError):
            continue  # unreadable: not a validation result to rely on
        if not isinstance(metrics, dict) or metrics.get("split") != "val":
            continue
        if metrics.get("cam_spec") != wanted_cam:
            continue
        if os.path.basename(metrics.get("checkpoint") or "") != os.path.basename(checkpoint):
            continue
        try:
            threshold = best_threshold(metrics)
        except (KeyError, TypeError, ValueError, IndexError):
            continue
        if _flat(metrics):
            continue  # every threshold scored the same: nothing was chosen (argmax says 0)
        if 0.0 <= threshold < 1.0:
            return threshold, path
    return None


def _flat(metrics) -> bool:
    """True when the fine curve's GT-known Loc is one value at every threshold (e.g. a one-image
    validation split that no threshold localizes)."""
    values = (metrics.get("curve") or {}).get("gt_known_loc") or []
    return len(values) > 1 and min(values) == max(values)
