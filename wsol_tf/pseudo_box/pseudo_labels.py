"""Pseudo-boxes: the WSOL run's boxes on its own training images, as the evaluator draws them.

For each training image the ground-truth class's map (the label is known on training images)
comes from the run's read-out (`ScoreMapper`: the extractor through the method's
`score_maps`, upsampled and min-max normalized as in evaluation), is cut at the run's
threshold with the evaluator's rule (`evaluation.boxes.box_from_scoremap`: the largest
contour's box, in the evaluation view's input pixels) and taken back to the original image's
pixels (`geometry.input_to_original`). A map with nothing above the threshold gives no box:
that image is left out of the regressor's training and counted. No GT box is read.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wsol_tf.evaluation.boxes import box_from_scoremap
from wsol_tf.pseudo_box.geometry import input_to_original


@dataclasses.dataclass
class PseudoBoxes:
    """rows (N,) of the split with a box, boxes (N, 4) int64 in input pixels, original (N, 4)
    float64 in original pixels; rows_empty: the images whose map gave no box."""

    rows: np.ndarray
    boxes: np.ndarray
    original: np.ndarray
    rows_empty: np.ndarray


def box_found(box) -> bool:
    """False for `box_from_scoremap`'s (0, 0, 0, 0): nothing above the threshold."""
    return bool(np.any(np.asarray(box) != 0))


def draw(mapper, batches, threshold, original_hw_of, image_size, resize_size, print_fn=print):
    """Pseudo-boxes of the images `batches` yields.

    Args:
        mapper: `(images, classes) -> (logits, maps (B, h, w) in [0, 1])` at the input size,
            e.g. `evaluation.extractors.ScoreMapper(model, cam)`.
        batches: `EvalBatch`es (`evaluation.sources.FileEvalSource.batches`) of the split:
            evaluation-view images, labels and rows.
        threshold: the CAM threshold tau.
        original_hw_of: `row -> (H, W)` of the decoded original image.
        image_size, resize_size: the evaluation view's geometry.
        print_fn: progress lines.

    Returns:
        `PseudoBoxes`.
    """
    rows, boxes, original, empty = [], [], [], []
    done = 0
    for batch in batches:
        _, maps = mapper(batch.images, batch.labels)
        for row, scoremap in zip(batch.rows, maps, strict=True):
            box = box_from_scoremap(scoremap, threshold)
            if not box_found(box):
                empty.append(int(row))
                continue
            rows.append(int(row))
            boxes.append(box)
            original.append(
                input_to_original(box, original_hw_of(int(row)), image_size, resize_size)
            )
        done += len(batch.rows)
        print_fn(f"pseudo-boxes drawn on {done} training images")
    return PseudoBoxes(
        np.asarray(rows, np.int64),
        np.asarray(boxes, np.int64).reshape(-1, 4),
        np.asarray(original, np.float64).reshape(-1, 4),
        np.asarray(empty, np.int64),
    )
