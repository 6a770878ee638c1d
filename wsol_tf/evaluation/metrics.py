"""WSOL metrics: Top-1 Clas, GT-known Loc and Top-1 Loc at several CAM thresholds.

Definitions (ADL paper; box rules of clovaai/wsolevaluation, see ``wsol_tf.evaluation.boxes``):

* Top-1 Clas: predicted class == label.
* GT-known Loc: the box from the ground-truth class's CAM has IoU >= ``iou_threshold`` with
  at least one GT box of the image (best IoU over the image's GT boxes).
* Top-1 Loc: Top-1 Clas and the box from the *predicted* class's CAM has IoU >= threshold.
  When the class is right the predicted class's CAM is the GT class's CAM, so Top-1 Loc is
  ``correct_cls and gt_known_correct``; when the class is wrong it is wrong whatever the box.

Every metric is computed at each CAM threshold of a threshold list (Tensorpack's 0.05 ... 0.35 by
default, plus ``cam_threshold``); the headline numbers use ``cam_threshold``. The same is
computed over wsolevaluation's fine grid ``np.arange(0, 1, cam_curve_interval)``, together with

* MaxBoxAcc: best GT-known accuracy over the fine grid at IoU >= 0.5 with the largest
  contour's box (wsolevaluation v1);
* MaxBoxAccV2: for each IoU delta in (0.3, 0.5, 0.7), the best accuracy over the grid with a
  box per contour (the best one counts), then the mean over delta;
* PxAP where GT masks are given (``wsol_tf.evaluation.pxap``). Images with a mask but no GT box
  (OpenImages) go through ``accumulate_masks``: they count in PxAP and Top-1 Clas only.

All of these use the GT class's score map. Contours are found once per distinct integer
cut ``int(tau * max)`` per image and shared by every threshold and metric (``boxes_by_level``).
"""

from __future__ import annotations

import numpy as np

from wsol_tf.evaluation.batch_check import check_batch, check_mask_batch
from wsol_tf.evaluation.box_metrics import (
    MAXBOXACC_IOU,
    MAXBOXACC_V2_IOUS,
    BoxAccumulator,
    _best_per_level,
    ious_at_thresholds,
)
from wsol_tf.evaluation.pxap import PxapAccumulator

# Where the box and mask parts moved; imported from here by older callers.
__all__ = [
    "MAXBOXACC_IOU",
    "MAXBOXACC_V2_IOUS",
    "MIN_CAM_CURVE_INTERVAL",
    "TENSORPACK_THRESHOLDS",
    "LocalizationEvaluator",
    "_best_per_level",
    "ious_at_thresholds",
]

# Tensorpack ADL tries cam_threshold = 0.05 + i * 0.05 for i = 0..6.
TENSORPACK_THRESHOLDS = np.arange(0.05, 0.351, 0.05)

# The finest fine grid: 100,000 thresholds (wsolevaluation's is 0.001, 1000). A finer step
# only adds memory: 1e-9 asks for 1e9 thresholds, gigabytes for each counter of the grid.
MIN_CAM_CURVE_INTERVAL = 1e-5

# Thresholds closer than this are the same threshold (float noise from np.arange).
_SAME_THRESHOLD = 1e-9


def _merge_thresholds(thresholds, cam_threshold: float) -> np.ndarray:
    """Sorted unique thresholds that contain ``cam_threshold`` exactly."""
    values = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    values = values[np.abs(values - cam_threshold) > _SAME_THRESHOLD]
    return np.unique(np.append(values, cam_threshold))


def _check_fraction(value, name: str, low_open: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}") from None
    ok = np.isfinite(value) and (0 < value if low_open else 0 <= value) and value <= 1
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}; got {value!r}")
    return value


def _threshold_list(thresholds, cam_threshold: float) -> np.ndarray:
    """The checked threshold list (Tensorpack's by default) with ``cam_threshold`` in it."""
    given = TENSORPACK_THRESHOLDS if thresholds is None else thresholds
    thresholds_list = np.asarray(given, dtype=np.float64).reshape(-1)
    if thresholds is not None and thresholds_list.size == 0:
        raise ValueError(f"thresholds must not be empty; got {thresholds!r}")
    for tau in thresholds_list:
        _check_fraction(tau, "every value in thresholds")
    return _merge_thresholds(thresholds_list, cam_threshold)


def _fine_grid(cam_curve_interval) -> tuple[float | None, np.ndarray]:
    """(checked step or None, (G,) grid ``np.arange(0, 1, step)``, empty without a step)."""
    if cam_curve_interval is None:
        return None, np.zeros(0)
    step = _check_fraction(cam_curve_interval, "cam_curve_interval", low_open=True)
    if not MIN_CAM_CURVE_INTERVAL <= step < 1:
        raise ValueError(
            f"cam_curve_interval must be in [{MIN_CAM_CURVE_INTERVAL:g}, 1); got "
            f"{cam_curve_interval}"
        )
    return step, np.arange(0, 1, step)  # exactly wsolevaluation's cam_threshold_list values


class LocalizationEvaluator:
    """Accumulate per-batch results, then ``compute()`` WSOL accuracies.

    Composes three parts: ``check_batch`` (``wsol_tf.evaluation.batch_check``) refuses a bad
    batch before anything counts, ``BoxAccumulator`` (``wsol_tf.evaluation.box_metrics``)
    counts the box hits and ``PxapAccumulator`` (``wsol_tf.evaluation.pxap``) sums PxAP's
    histograms.

    Usage::

        evaluator = LocalizationEvaluator(cam_threshold=0.2)
        for batch in data:
            evaluator.accumulate(maps_gt, maps_pred, predictions, labels, gt_boxes, num_boxes)
        results = evaluator.compute()  # JSON-serialisable dict
        records = evaluator.per_image()  # numpy arrays, e.g. to pick images for pictures

    Args:
        cam_threshold: CAM threshold tau for the headline numbers (CAM paper / Tensorpack: 0.2).
        thresholds: CAM thresholds to score; default ``np.arange(0.05, 0.351, 0.05)``.
            ``cam_threshold`` is always added; the list is sorted and deduplicated.
        iou_threshold: IoU needed for a box to count as correct (delta, default 0.5; ``>=``).
        multi_contour: False (default) takes the largest contour's box per threshold; True
            keeps a box per contour and scores the best one (wsolevaluation's MaxBoxAccV2 mode).
            Applies to Top-1 Clas/GT-known/Top-1 Loc and their per-threshold values; MaxBoxAcc and
            MaxBoxAccV2 always use their own rule.
        cam_curve_interval: step of the fine grid ``np.arange(0, 1, step)`` (wsolevaluation's
            default 0.001); None skips the grid, MaxBoxAcc, MaxBoxAccV2 and PxAP.
        v2_iou_thresholds: the IoU deltas MaxBoxAccV2 averages over.
        workers: threads scanning the maps of a batch (``accumulate``); the numbers do not
            depend on it (each image is scanned on its own and counted in order).
    """

    def __init__(
        self,
        cam_threshold: float = 0.2,
        thresholds=None,
        iou_threshold: float = 0.5,
        multi_contour: bool = False,
        cam_curve_interval: float | None = 0.001,
        v2_iou_thresholds=MAXBOXACC_V2_IOUS,
        workers: int = 1,
    ):
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an int >= 1; got {workers!r}")
        self.workers = workers
        self._pool = None
        self.cam_threshold = _check_fraction(cam_threshold, "cam_threshold")
        self.iou_threshold = _check_fraction(iou_threshold, "iou_threshold", low_open=True)
        self.thresholds = _threshold_list(thresholds, self.cam_threshold)  # (T,)
        self.multi_contour = bool(multi_contour)
        self.cam_curve_interval, self.curve_thresholds = _fine_grid(cam_curve_interval)
        self.v2_iou_thresholds = tuple(
            _check_fraction(d, "every value in v2_iou_thresholds", low_open=True)
            for d in v2_iou_thresholds
        )
        if not self.v2_iou_thresholds:
            raise ValueError("v2_iou_thresholds must not be empty")
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._boxes = BoxAccumulator(
            thresholds=self.thresholds, cam_threshold=self.cam_threshold,
            iou_threshold=self.iou_threshold, multi_contour=self.multi_contour,
            cam_curve_interval=self.cam_curve_interval, curve_thresholds=self.curve_thresholds,
            v2_iou_thresholds=self.v2_iou_thresholds,
        )  # fmt: skip
        grid = None if self.cam_curve_interval is None else self.curve_thresholds
        self._masks = PxapAccumulator(grid)
        self._mask_only_images = 0  # images with a mask and no box (accumulate_masks)
        self._mask_only_correct = 0

    @property
    def num_images(self) -> int:
        """Images with GT boxes accumulated (the box metrics' denominator)."""
        return self._boxes.num_images

    @property
    def num_evaluated(self) -> int:
        """All images accumulated: with boxes, plus mask-only ones."""
        return self._boxes.num_images + self._mask_only_images

    def accumulate_masks(self, scoremaps_gt, masks, predictions, labels) -> None:
        """Add images that have a GT mask but no GT box (OpenImages): PxAP and Top-1 Clas.

        Args:
            scoremaps_gt: (B, H, W) normalised CAMs of the ground-truth class.
            masks: (B, H, W) GT masks (1 object, 0 background, 255 ignore) or B such arrays.
            predictions: (B,) predicted class indices.
            labels: (B,) ground-truth class indices.

        Raises:
            ValueError on wrong shapes or values; nothing is accumulated from a bad batch.
        """
        maps_gt, predictions, labels = check_mask_batch(scoremaps_gt, masks, predictions, labels)
        self._masks.add(self._masks.histograms(maps_gt, masks))
        self._mask_only_images += len(maps_gt)
        self._mask_only_correct += int((predictions == labels).sum())

    def accumulate(
        self, scoremaps_gt, scoremaps_pred, predictions, labels, gt_boxes, num_boxes, masks=None
    ) -> None:
        """Add one batch.

        Args:
            scoremaps_gt: (B, H, W) normalised ([0, 1]) CAMs of the ground-truth class, at the
                network-input size (same pixel frame as ``gt_boxes``).
            scoremaps_pred: (B, H, W) normalised CAMs of the predicted class, or None. Only
                read where prediction != label, and only for the per-image record
                (``top1_iou`` / ``top1_box``): the metrics never need it because a wrong class
                fails Top-1 Loc anyway, and where the class is right the GT map is used.
            predictions: (B,) predicted class indices.
            labels: (B,) ground-truth class indices.
            gt_boxes: (B, M, 4) GT boxes (x0, y0, x1, y1) in input pixels, padded to M.
            num_boxes: (B,) number of valid boxes per image (1 <= n <= M); the first n count.
            masks: optional (B, H, W) GT masks for PxAP (1 object, 0 background, 255 ignore),
                or a length-B sequence with None for images without a mask.

        Raises:
            ValueError on wrong shapes, NaN/Inf or out-of-range score maps, or invalid boxes
            (``wsol_tf.evaluation.batch_check.check_batch``), or bad masks.
            Nothing is accumulated from a batch that fails validation.
        """
        batch = check_batch(scoremaps_gt, scoremaps_pred, predictions, labels, gt_boxes, num_boxes)
        histograms = self._masks.histograms(batch.maps_gt, masks)  # checked before any count
        self._boxes.add(batch, self.parallel_map)
        self._masks.add(histograms)

    def parallel_map(self, fn, items) -> list:
        """``[fn(x) for x in items]``, on a thread pool when ``workers`` > 1 (cv2 and numpy
        release the GIL while they scan a map); results keep the order of ``items``."""
        items = list(items)
        if self.workers == 1 or len(items) < 2:
            return [fn(x) for x in items]
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="wsol-eval")
        return list(self._pool.map(fn, items))

    def compute(self) -> dict:
        """Accuracies over everything accumulated.

        Returns:
            JSON-serialisable dict (plain Python floats/ints; accuracies in percent, 0-100):

            * ``top1_clas``, ``gt_known_loc``, ``top1_loc``: at ``cam_threshold``.
            * ``num_images``, ``cam_threshold``, ``iou_threshold``, ``multi_contour``.
            * ``per_threshold``: list of ``{"threshold", "gt_known_loc", "top1_loc"}``, ascending.
            * ``best_threshold``: the threshold of the list with the highest GT-known Loc (the
              lowest one on ties); ``best_gt_known_loc``: that accuracy.
            * ``best_top1_loc``: highest Top-1 Loc over the list, chosen on its own, at
              ``best_top1_threshold`` (may differ from ``best_threshold``).
            * with a fine grid: ``cam_curve_interval``; ``curve`` = {``thresholds``,
              ``gt_known_loc``, ``top1_loc``} lists and the best of each with its threshold;
              ``maxboxacc`` and ``maxboxacc_threshold``; ``maxboxacc_v2`` and
              ``maxboxacc_v2_per_iou`` = {delta: {``accuracy``, ``threshold``}};
              ``pxap`` (None without masks) and ``num_images_with_mask``.
            * with mask-only images (``accumulate_masks``): ``top1_clas`` and ``num_images``
              cover every image and ``num_images_with_box`` counts those the box metrics
              use; with no box image at all only Top-1 Clas and PxAP are given (box metrics
              None).

        Raises:
            RuntimeError if nothing was accumulated.
        """
        if self.num_evaluated == 0:
            raise RuntimeError("compute() called before any accumulate(): no images")
        if self.num_images == 0:
            return self._compute_masks_only()
        metrics = self._boxes.compute()
        if self.cam_curve_interval is not None:  # PxAP closes the fine grid's entries
            metrics.update(self._masks.metrics())
            metrics["num_images_with_mask"] = int(self._masks.num_masks)
        if self._mask_only_images:
            # Classification covers every image; the box metrics only those with boxes.
            total = self.num_evaluated
            correct = self._boxes.num_correct_cls + self._mask_only_correct
            metrics["top1_clas"] = correct * 100.0 / total
            metrics["num_images"] = total
            metrics["num_images_with_box"] = self.num_images
        return metrics

    def _compute_masks_only(self) -> dict:
        """Metrics of an evaluation where no image has a GT box: PxAP and Top-1 Clas."""
        n = self._mask_only_images
        return {
            "top1_clas": self._mask_only_correct * 100.0 / n,
            "gt_known_loc": None,
            "top1_loc": None,
            "maxboxacc": None,
            "maxboxacc_v2": None,
            **self._masks.metrics(),
            "num_images": n,
            "num_images_with_box": 0,
            "num_images_with_mask": int(self._masks.num_masks),
            "cam_threshold": float(self.cam_threshold),
            "cam_curve_interval": self.cam_curve_interval,
        }

    def per_image(self) -> dict[str, np.ndarray]:
        """Per-image records, in accumulation order (all at ``cam_threshold`` unless noted).

        Returns:
            Dict of numpy arrays over the N images seen:
            ``index`` (N,) running image index from 0 across batches; ``label``,
            ``prediction`` (N,) int64; ``correct_cls`` (N,) bool; ``gt_known_iou`` (N,) best
            IoU of the GT-class CAM's box; ``gt_known_box`` (N, 4) int64 that box;
            ``gt_known_correct`` (N,) bool; ``top1_iou`` (N,) IoU of the predicted class's
            box (NaN when the class was wrong and no ``scoremaps_pred`` was given);
            ``top1_box`` (N, 4) int64 (-1s when unknown); ``top1_loc_correct`` (N,) bool.
            Only ``cam_threshold`` is kept per image so memory stays O(N) for long threshold lists.
        """
        return self._boxes.per_image()
