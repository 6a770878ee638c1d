"""Input checks of a batch handed to ``LocalizationEvaluator``, before anything counts.

Pure numpy: each function returns the batch as arrays or raises ``ValueError`` naming the
argument (and the image of the batch where one is at fault). GT masks are checked where
their PxAP histograms are made (``wsol_tf.evaluation.pxap.PxapAccumulator.histograms``),
still before anything counts.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from wsol_tf.evaluation.boxes import validate_boxes


class BoxBatch(NamedTuple):
    """A checked batch of images with GT boxes (B images of (H, W) maps, M box slots)."""

    maps_gt: np.ndarray  # (B, H, W) float in [0, 1]
    maps_pred: np.ndarray | None  # (B, H, W) float in [0, 1], or None
    predictions: np.ndarray  # (B,) int
    labels: np.ndarray  # (B,) int
    gt_boxes: np.ndarray  # (B, M, 4)
    num_boxes: np.ndarray  # (B,) int in [1, M]

    def gt(self, b: int) -> np.ndarray:
        """(m, 4) the valid GT boxes of image ``b``."""
        return self.gt_boxes[b, : self.num_boxes[b]]


def _maps_3d(scoremaps_gt) -> np.ndarray:
    maps_gt = np.asarray(scoremaps_gt)
    if maps_gt.ndim != 3:
        raise ValueError(f"scoremaps_gt must be (B, H, W); got shape {maps_gt.shape}")
    return maps_gt


def _check_classes(predictions, labels, batch: int) -> tuple[np.ndarray, np.ndarray]:
    predictions = np.asarray(predictions).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    for name, arr in (("predictions", predictions), ("labels", labels)):
        if arr.shape != (batch,):
            raise ValueError(f"{name} must have B={batch} entries; got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must be integers; got dtype {arr.dtype}")
    return predictions, labels


def _check_box_slots(gt_boxes, num_boxes, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Shapes and counts of the padded boxes (the boxes themselves come last)."""
    num_boxes = np.asarray(num_boxes).reshape(-1)
    gt_boxes = np.asarray(gt_boxes)
    if gt_boxes.ndim != 3 or gt_boxes.shape[0] != batch or gt_boxes.shape[2] != 4:
        raise ValueError(f"gt_boxes must be (B={batch}, M, 4); got shape {gt_boxes.shape}")
    if num_boxes.shape != (batch,) or not np.issubdtype(num_boxes.dtype, np.integer):
        raise ValueError(
            f"num_boxes must be {batch} integers; got shape {num_boxes.shape}, "
            f"dtype {num_boxes.dtype}"
        )
    max_boxes = gt_boxes.shape[1]
    if ((num_boxes < 1) | (num_boxes > max_boxes)).any():
        raise ValueError(f"num_boxes must lie in [1, M={max_boxes}]; got {num_boxes.tolist()}")
    return gt_boxes, num_boxes


def _check_map_values(maps: np.ndarray, name: str) -> None:
    """Float, finite (naming the images that are not) and within [0, 1]."""
    if not np.issubdtype(maps.dtype, np.floating):
        raise ValueError(f"{name} must be float; got dtype {maps.dtype}")
    finite = np.isfinite(maps).reshape(len(maps), -1).all(axis=1)  # (B,)
    if not finite.all():
        raise ValueError(
            f"{name} contains NaN/Inf in image(s) {np.flatnonzero(~finite).tolist()} of this batch"
        )
    if maps.size and (maps.min() < 0 or maps.max() > 1):
        raise ValueError(
            f"{name} must be normalised to [0, 1]; got min={maps.min()}, max={maps.max()}"
        )


def check_batch(scoremaps_gt, scoremaps_pred, predictions, labels, gt_boxes, num_boxes) -> BoxBatch:
    """The arguments of ``LocalizationEvaluator.accumulate`` (masks aside), checked.

    Checks run in a fixed order (shapes, classes, box slots, map values, then each image's
    boxes), so the same bad batch always gives the same message.

    Raises:
        ValueError on wrong shapes or dtypes, NaN/Inf or out-of-range score maps, box counts
        outside [1, M] or invalid boxes.
    """
    maps_gt = _maps_3d(scoremaps_gt)
    batch = maps_gt.shape[0]
    maps_pred = None if scoremaps_pred is None else np.asarray(scoremaps_pred)
    if maps_pred is not None and maps_pred.shape != maps_gt.shape:
        raise ValueError(
            f"scoremaps_pred must have the shape of scoremaps_gt {maps_gt.shape}; "
            f"got {maps_pred.shape}"
        )
    predictions, labels = _check_classes(predictions, labels, batch)
    gt_boxes, num_boxes = _check_box_slots(gt_boxes, num_boxes, batch)
    _check_map_values(maps_gt, "scoremaps_gt")
    if maps_pred is not None:
        _check_map_values(maps_pred, "scoremaps_pred")
    checked = BoxBatch(maps_gt, maps_pred, predictions, labels, gt_boxes, num_boxes)
    for b in range(batch):
        validate_boxes(checked.gt(b), name=f"gt_boxes[{b}] of this batch")
    return checked


def check_mask_batch(scoremaps_gt, masks, predictions, labels):
    """The arguments of ``LocalizationEvaluator.accumulate_masks``, checked (the maps' values
    and the masks themselves are checked with their histograms).

    Returns:
        maps_gt (B, H, W), predictions (B,), labels (B,) as arrays.
    """
    maps_gt = _maps_3d(scoremaps_gt)
    batch = maps_gt.shape[0]
    predictions = np.asarray(predictions).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    for name, arr in (("predictions", predictions), ("labels", labels)):
        if arr.shape != (batch,) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must be B={batch} integers; got {arr.shape} {arr.dtype}")
    if masks is None or any(m is None for m in masks):
        raise ValueError("accumulate_masks needs a mask for every image")
    return maps_gt, predictions, labels
