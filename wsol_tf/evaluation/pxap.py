"""PxAP: area under the pixel precision-recall curve of score maps against GT masks.

Follows clovaai/wsolevaluation's ``MaskEvaluator``: score histograms over the CAM thresholds
``[0, bw, 2bw, ..., 1 - bw]`` extended by the edges 1, 2, 3 (so a score of exactly 1 has its
own bin), accumulated separately for foreground and background pixels; ignored pixels
(mask value 255) count in neither. Cumulating the histograms from the top gives TP/FP at
"score >= edge" for every edge, and

    PxAP = 100 * sum_i precision_i * (recall_i - recall_{i-1})

over the edges in descending order, skipping edges where nothing is predicted positive.

Mask convention (wsolevaluation's ``get_mask``): (H, W) uint8, 1 = object, 0 = background,
255 = ignore. Boolean masks are taken as object/background with nothing ignored.
"""

from __future__ import annotations

import numpy as np

FOREGROUND = 1
BACKGROUND = 0
IGNORE = 255


def histogram_edges(thresholds) -> np.ndarray:
    """Bin edges ``thresholds + [1, 2, 3]``.

    Args:
        thresholds: (T,) ascending CAM thresholds starting at 0 (e.g. ``np.arange(0, 1, bw)``).

    Returns:
        (T + 3,) float64 edges; T + 2 bins.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if thresholds.size == 0 or (np.diff(thresholds) <= 0).any():
        raise ValueError("thresholds must be non-empty and strictly ascending")
    if thresholds[0] < 0 or thresholds[-1] >= 1:
        raise ValueError(f"thresholds must lie in [0, 1); got {thresholds[0]}..{thresholds[-1]}")
    return np.append(thresholds, [1.0, 2.0, 3.0])


def check_mask(mask, shape, name: str = "mask") -> np.ndarray:
    """Validate a GT mask against its score map's (H, W); return it as uint8 0/1/255."""
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"{name} must have the score map's shape {tuple(shape)}; got {mask.shape}")
    if mask.dtype == np.bool_:
        return mask.astype(np.uint8)
    values = np.unique(mask)
    if not np.isin(values, (BACKGROUND, FOREGROUND, IGNORE)).all():
        raise ValueError(f"{name} values must be 0, 1 or 255 (ignore); got {values[:10].tolist()}")
    return mask.astype(np.uint8)


def pxap_histograms(scoremap, mask, thresholds) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background score histograms of one image.

    Args:
        scoremap: (H, W) float map in [0, 1].
        mask: (H, W) GT mask (see module docstring).
        thresholds: (T,) ascending CAM thresholds from 0.

    Returns:
        (T + 2,) float64 histogram of object-pixel scores and (T + 2,) of background scores.
    """
    scoremap = np.asarray(scoremap, dtype=np.float64)
    if scoremap.ndim != 2:
        raise ValueError(f"scoremap must be (H, W); got shape {scoremap.shape}")
    if not np.isfinite(scoremap).all():
        raise ValueError("scoremap must not contain NaN or Inf")
    if scoremap.size and (scoremap.min() < 0 or scoremap.max() > 1):
        raise ValueError(f"scoremap must lie in [0, 1]; got {scoremap.min()}..{scoremap.max()}")
    mask = check_mask(mask, scoremap.shape)
    edges = histogram_edges(thresholds)  # (T + 3,)
    fg, _ = np.histogram(scoremap[mask == FOREGROUND], bins=edges)  # (T + 2,)
    bg, _ = np.histogram(scoremap[mask == BACKGROUND], bins=edges)  # (T + 2,)
    return fg.astype(np.float64), bg.astype(np.float64)


def pxap_from_histograms(fg_hist, bg_hist) -> float:
    """PxAP in percent from accumulated histograms (wsolevaluation's ``MaskEvaluator.compute``).

    Args:
        fg_hist: (T + 2,) summed object-pixel histograms.
        bg_hist: (T + 2,) summed background histograms.

    Returns:
        Area under the precision-recall curve, 0-100.

    Raises:
        ValueError when there is no object pixel at all or no positive prediction.
    """
    fg_hist = np.asarray(fg_hist, dtype=np.float64)
    bg_hist = np.asarray(bg_hist, dtype=np.float64)
    tp = fg_hist[::-1].cumsum()  # score >= edge, edges descending: 2, 1, 1 - bw, ..., 0
    fp = bg_hist[::-1].cumsum()
    fn = fg_hist.sum() - tp
    if ((tp + fn) <= 0).all():
        raise ValueError("PxAP: no object pixel in the masks evaluated")
    if ((tp + fp) <= 0).all():
        raise ValueError("PxAP: no positive prediction at any threshold")
    predicted = tp + fp
    nonzero = predicted != 0
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=nonzero)
    recall = tp / (tp + fn)
    return float((precision[1:] * np.diff(recall))[nonzero[1:]].sum() * 100)


def pxap(scoremaps, masks, thresholds) -> float:
    """PxAP of a set of score maps (convenience over the two functions above).

    Args:
        scoremaps: (N, H, W) maps in [0, 1] (or a sequence of (H_i, W_i) maps).
        masks: matching (N, H, W) masks.
        thresholds: (T,) ascending CAM thresholds from 0.

    Returns:
        PxAP in percent.
    """
    if len(scoremaps) != len(masks):
        raise ValueError(f"{len(scoremaps)} score maps but {len(masks)} masks")
    fg_total = bg_total = 0.0
    for scoremap, mask in zip(scoremaps, masks, strict=True):
        fg, bg = pxap_histograms(scoremap, mask, thresholds)
        fg_total, bg_total = fg_total + fg, bg_total + bg
    return pxap_from_histograms(fg_total, bg_total)


class PxapAccumulator:
    """The mask part of ``LocalizationEvaluator``: PxAP's summed histograms over the images
    with a GT mask, in the order they come.

    Args:
        thresholds: (G,) the evaluator's fine grid, or None when it has none (masks are then
            refused: PxAP needs the grid).
    """

    def __init__(self, thresholds):
        self.thresholds = thresholds
        bins = (0 if thresholds is None else len(thresholds)) + 2
        self.fg_hist = np.zeros(bins)  # (G + 2,)
        self.bg_hist = np.zeros(bins)
        self.num_masks = 0

    def histograms(self, maps_gt, masks) -> list:
        """Per-image (fg, bg) histograms, or None where there is no mask; counts nothing.

        Args:
            maps_gt: (B, H, W) the GT class's maps.
            masks: None, or B masks (None for an image without one).

        Raises:
            ValueError naming the image whose mask (or map) is bad.
        """
        batch = len(maps_gt)
        if masks is None:
            return [None] * batch
        if len(masks) != batch:
            raise ValueError(f"masks must have B={batch} entries; got {len(masks)}")
        if self.thresholds is None:
            raise ValueError("masks need the fine grid: cam_curve_interval must not be None")
        out = []
        for b in range(batch):
            if masks[b] is None:
                out.append(None)
                continue
            try:
                out.append(pxap_histograms(maps_gt[b], masks[b], self.thresholds))
            except ValueError as error:
                raise ValueError(f"masks[{b}] of this batch: {error}") from None
        return out

    def add(self, histograms) -> None:
        """Sum the images' histograms from ``histograms()`` in order (None: no mask)."""
        for histogram in histograms:
            if histogram is None:
                continue
            self.fg_hist += histogram[0]
            self.bg_hist += histogram[1]
            self.num_masks += 1

    def metrics(self) -> dict:
        """{"pxap": value or None}; when the masks hold no object pixel (or no scored pixel)
        PxAP is undefined: None and "pxap_note" says why, so the box metrics of the same
        evaluation are still returned (wsolevaluation's division gives NaN there)."""
        if not self.num_masks:
            return {"pxap": None}
        try:
            return {"pxap": pxap_from_histograms(self.fg_hist, self.bg_hist)}
        except ValueError as error:
            return {"pxap": None, "pxap_note": f"{error} (PxAP undefined)"}
