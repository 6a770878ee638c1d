"""Trivial localization baselines: what a CAM must beat to show it learned where objects are.

The centered box ignores the image: a box of a fixed fraction of the input's height and width,
centered. On datasets whose objects fill the middle of the frame (CUB birds) it scores well,
so a WSOL result is only informative next to it.
"""

from __future__ import annotations

import numpy as np

from wsol_tf.evaluation.boxes import iou
from wsol_tf.evaluation.sources import FileEvalSource

DEFAULT_FRACTIONS = np.round(np.arange(0.05, 1.0001, 0.05), 4)
IOU_THRESHOLD = 0.5


def centered_box(image_hw, fraction: float) -> np.ndarray:
    """(4,) int64 box (x0, y0, x1, y1), inclusive pixels, of ``fraction`` of each side, centered.

    Example: a 10 x 20 (h, w) input at fraction 0.5 gives x 5..14, y 2..6 (10 x 5 pixels).
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got fraction={fraction}")
    height, width = (int(s) for s in image_hw)
    box_w = max(1, int(round(width * fraction)))
    box_h = max(1, int(round(height * fraction)))
    x0, y0 = (width - box_w) // 2, (height - box_h) // 2
    return np.array([x0, y0, x0 + box_w - 1, y0 + box_h - 1], np.int64)


def centered_box_accuracy(gt_boxes_list, image_hw, fractions=DEFAULT_FRACTIONS) -> np.ndarray:
    """GT-known Loc (%) of the centered box at each fraction.

    Args:
        gt_boxes_list: N arrays of (M_i, 4) GT boxes in input pixels (M_i >= 1).
        image_hw: (h, w) of the input all boxes live in.
        fractions: (F,) box side fractions.

    Returns:
        (F,) float64: % of images whose best-matching GT box has IoU >= 0.5 with the box.
    """
    fractions = np.asarray(fractions, np.float64)
    if len(gt_boxes_list) == 0:
        raise ValueError("centered_box_accuracy needs at least one image with a GT box")
    boxes = np.stack([centered_box(image_hw, f) for f in fractions])  # (F, 4)
    hits = np.zeros(len(fractions), np.int64)
    for gt in gt_boxes_list:
        gt = np.asarray(gt, np.float64).reshape(-1, 4)
        hits += iou(boxes, gt).max(axis=1) >= IOU_THRESHOLD  # (F,)
    return hits * 100.0 / len(gt_boxes_list)


def centered_box_baseline(records, image_size, resize_size=None, fractions=DEFAULT_FRACTIONS):
    """The centered-box baseline on a split, in the evaluation's input geometry.

    Args:
        records: the split's `Records` (boxes in original pixels).
        image_size: (h, w) network input.
        resize_size: (h, w) resize before the evaluation's center crop (None: plain resize).
        fractions: box side fractions to try.

    Returns:
        {"full_image": GT-known Loc of the whole-input box, "best": the best over fractions
        (chosen on this split: an optimistic baseline), "best_fraction", "fractions",
        "accuracy", "num_images"}.
    """
    # The evaluator's own GT geometry (file sizes, resize + center crop, truncation).
    source = FileEvalSource(records)
    gts = [source.gt(row, image_size, resize_size) for row in source.candidate_rows()]
    gts = [gt for gt in gts if len(gt)]
    accuracy = centered_box_accuracy(gts, image_size, fractions)
    best = int(np.argmax(accuracy))
    full = centered_box_accuracy(gts, image_size, [1.0])[0]
    return {
        "full_image": float(full),
        "best": float(accuracy[best]),
        "best_fraction": float(np.asarray(fractions)[best]),
        "fractions": [float(f) for f in fractions],
        "accuracy": accuracy.tolist(),
        "num_images": len(gts),
    }
