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

from wsol_tf.evaluation.boxes import (
    boxes_by_level,
    scoremap_to_uint8,
    threshold_levels,
    validate_boxes,
)
from wsol_tf.evaluation.boxes import iou as box_iou
from wsol_tf.evaluation.pxap import pxap_from_histograms, pxap_histograms

# Tensorpack ADL tries cam_threshold = 0.05 + i * 0.05 for i = 0..6.
TENSORPACK_THRESHOLDS = np.arange(0.05, 0.351, 0.05)

# wsolevaluation's MaxBoxAccV2 IoU thresholds (its iou_threshold_list 30, 50, 70 divided by 100).
MAXBOXACC_V2_IOUS = (0.3, 0.5, 0.7)
MAXBOXACC_IOU = 0.5

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


def _best_per_level(per_level, gt_boxes):
    """Largest-contour and best-contour IoU per level, in one IoU call for all levels.

    One vectorized IoU over every level's boxes replaces a small IoU call per level (the
    scan's main cost after findContours). Values are identical: IoU is elementwise, and
    the best box of a level is its first maximum, as ``np.argmax`` picks it.

    Args:
        per_level: L entries (boxes (n_l, 4) int64, index of the largest contour), n_l >= 1.
        gt_boxes: (m, 4) GT boxes.

    Returns:
        iou_largest (L,), box_largest (L, 4), iou_multi (L,), box_multi (L, 4).
    """
    if not per_level:
        empty_boxes = np.empty((0, 4), dtype=np.int64)
        return np.empty(0), empty_boxes, np.empty(0), empty_boxes.copy()
    counts = np.array([len(boxes) for boxes, _ in per_level])  # (L,)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])  # (L,) first row of each level
    boxes = np.concatenate([b for b, _ in per_level])  # (N, 4), N = sum n_l
    best = box_iou(boxes, gt_boxes).max(axis=1)  # (N,) best over GT boxes
    largest = starts + np.array([index for _, index in per_level])  # (L,) rows
    level_max = np.maximum.reduceat(best, starts)  # (L,)
    rows = np.arange(len(best))  # (N,)
    is_max = best == np.repeat(level_max, counts)  # (N,)
    first_max = np.minimum.reduceat(np.where(is_max, rows, len(best)), starts)  # (L,) rows
    return best[largest], boxes[largest], best[first_max], boxes[first_max]


def ious_at_thresholds(scoremap, gt_boxes, threshold_sets) -> list[dict[str, np.ndarray]]:
    """Best IoU of the predicted box(es) against the GT boxes at every threshold of every set.

    One contour pass per distinct integer level of the union of the sets; every threshold
    that maps onto that level reuses it.

    Args:
        scoremap: (H, W) float map in [0, 1].
        gt_boxes: (m, 4) GT boxes in the map's pixels.
        threshold_sets: sequence of (T_s,) threshold arrays.

    Returns:
        One dict per set with ``iou_largest`` (T_s,) float64 (largest contour's box),
        ``box_largest`` (T_s, 4) int64, ``iou_multi`` (T_s,) (best over all contours' boxes)
        and ``box_multi`` (T_s, 4) (the box achieving it).
    """
    image = scoremap_to_uint8(scoremap)  # (H, W) uint8
    max_value = int(image.max()) if image.size else 0
    levels = [threshold_levels(t, max_value) for t in threshold_sets]  # [(T_s,)]
    unique = np.unique(np.concatenate(levels)) if levels else np.zeros(0, np.int64)  # (L,)
    per_level = list(boxes_by_level(image, unique).values())  # L x (boxes (n_l, 4), largest)
    iou_largest, box_largest, iou_multi, box_multi = _best_per_level(per_level, gt_boxes)
    out = []
    for set_levels in levels:
        where = np.searchsorted(unique, set_levels)  # (T_s,) rows of the level tables
        out.append(
            {
                "iou_largest": iou_largest[where],
                "box_largest": box_largest[where],
                "iou_multi": iou_multi[where],
                "box_multi": box_multi[where],
            }
        )
    return out


class LocalizationEvaluator:
    """Accumulate per-batch results, then ``compute()`` WSOL accuracies.

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
        given = TENSORPACK_THRESHOLDS if thresholds is None else thresholds
        thresholds_list = np.asarray(given, dtype=np.float64).reshape(-1)
        if thresholds is not None and thresholds_list.size == 0:
            raise ValueError(f"thresholds must not be empty; got {thresholds!r}")
        for tau in thresholds_list:
            _check_fraction(tau, "every value in thresholds")
        self.thresholds = _merge_thresholds(thresholds_list, self.cam_threshold)  # (T,)
        self._cam_index = int(np.argmin(np.abs(self.thresholds - self.cam_threshold)))
        self.multi_contour = bool(multi_contour)
        if cam_curve_interval is None:
            self.cam_curve_interval = None
            self.curve_thresholds = np.zeros(0)
        else:
            step = _check_fraction(cam_curve_interval, "cam_curve_interval", low_open=True)
            if not MIN_CAM_CURVE_INTERVAL <= step < 1:
                raise ValueError(
                    f"cam_curve_interval must be in [{MIN_CAM_CURVE_INTERVAL:g}, 1); got "
                    f"{cam_curve_interval}"
                )
            self.cam_curve_interval = step
            # Exactly wsolevaluation's cam_threshold_list values.
            self.curve_thresholds = np.arange(0, 1, step)  # (G,)
        self.v2_iou_thresholds = tuple(
            _check_fraction(d, "every value in v2_iou_thresholds", low_open=True)
            for d in v2_iou_thresholds
        )
        if not self.v2_iou_thresholds:
            raise ValueError("v2_iou_thresholds must not be empty")
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        num_thresholds = len(self.thresholds)
        self._num_images = 0
        self._num_correct_cls = 0
        self._gt_known_hits = np.zeros(num_thresholds, dtype=np.int64)  # (T,)
        self._top1_hits = np.zeros(num_thresholds, dtype=np.int64)  # (T,)
        grid = len(self.curve_thresholds)
        self._curve_gt_known_hits = np.zeros(grid, dtype=np.int64)  # (G,)
        self._curve_top1_hits = np.zeros(grid, dtype=np.int64)  # (G,)
        self._maxboxacc_hits = np.zeros(grid, dtype=np.int64)  # (G,) largest contour, IoU 0.5
        self._v2_hits = np.zeros((len(self.v2_iou_thresholds), grid), dtype=np.int64)  # (D, G)
        self._mask_fg_hist = np.zeros(grid + 2)  # (G + 2,)
        self._mask_bg_hist = np.zeros(grid + 2)
        self._num_masks = 0
        self._mask_only_images = 0  # images with a mask and no box (accumulate_masks)
        self._mask_only_correct = 0
        self._records: dict[str, list] = {
            "index": [],
            "label": [],
            "prediction": [],
            "correct_cls": [],
            "gt_known_iou": [],
            "gt_known_box": [],
            "gt_known_correct": [],
            "top1_iou": [],
            "top1_box": [],
            "top1_loc_correct": [],
        }

    @property
    def num_images(self) -> int:
        """Images with GT boxes accumulated (the box metrics' denominator)."""
        return self._num_images

    @property
    def num_evaluated(self) -> int:
        """All images accumulated: with boxes, plus mask-only ones."""
        return self._num_images + self._mask_only_images

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
        maps_gt = np.asarray(scoremaps_gt)
        if maps_gt.ndim != 3:
            raise ValueError(f"scoremaps_gt must be (B, H, W); got shape {maps_gt.shape}")
        batch = maps_gt.shape[0]
        predictions = np.asarray(predictions).reshape(-1)
        labels = np.asarray(labels).reshape(-1)
        for name, arr in (("predictions", predictions), ("labels", labels)):
            if arr.shape != (batch,) or not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{name} must be B={batch} integers; got {arr.shape} {arr.dtype}")
        if masks is None or any(m is None for m in masks):
            raise ValueError("accumulate_masks needs a mask for every image")
        histograms = self._mask_histograms(masks, maps_gt)
        for fg, bg in histograms:
            self._mask_fg_hist += fg
            self._mask_bg_hist += bg
        self._num_masks += batch
        self._mask_only_images += batch
        self._mask_only_correct += int((predictions == labels).sum())

    def _best_box(self, scoremap, gt) -> tuple[np.ndarray, np.ndarray]:
        """Best IoU against ``gt`` (m, 4) at every threshold of the list, in the evaluator's mode.

        Returns:
            ious (T,), boxes (T, 4) int64 (the predicted box achieving each best IoU).
        """
        (at_tau,) = ious_at_thresholds(scoremap, gt, [self.thresholds])
        mode = "multi" if self.multi_contour else "largest"
        return at_tau[f"iou_{mode}"], at_tau[f"box_{mode}"]

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
            ValueError on wrong shapes, NaN/Inf or out-of-range score maps, or invalid boxes.
            Nothing is accumulated from a batch that fails validation.
        """
        maps_gt = np.asarray(scoremaps_gt)
        if maps_gt.ndim != 3:
            raise ValueError(f"scoremaps_gt must be (B, H, W); got shape {maps_gt.shape}")
        batch = maps_gt.shape[0]
        maps_pred = None if scoremaps_pred is None else np.asarray(scoremaps_pred)
        if maps_pred is not None and maps_pred.shape != maps_gt.shape:
            raise ValueError(
                f"scoremaps_pred must have the shape of scoremaps_gt {maps_gt.shape}; "
                f"got {maps_pred.shape}"
            )
        predictions = np.asarray(predictions).reshape(-1)
        labels = np.asarray(labels).reshape(-1)
        num_boxes = np.asarray(num_boxes).reshape(-1)
        for name, arr in (("predictions", predictions), ("labels", labels)):
            if arr.shape != (batch,):
                raise ValueError(f"{name} must have B={batch} entries; got shape {arr.shape}")
            if not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{name} must be integers; got dtype {arr.dtype}")
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
        for name, maps in (("scoremaps_gt", maps_gt), ("scoremaps_pred", maps_pred)):
            if maps is None:
                continue
            if not np.issubdtype(maps.dtype, np.floating):
                raise ValueError(f"{name} must be float; got dtype {maps.dtype}")
            finite = np.isfinite(maps).reshape(batch, -1).all(axis=1)  # (B,)
            if not finite.all():
                raise ValueError(
                    f"{name} contains NaN/Inf in image(s) {np.flatnonzero(~finite).tolist()} "
                    "of this batch"
                )
            if maps.size and (maps.min() < 0 or maps.max() > 1):
                raise ValueError(
                    f"{name} must be normalised to [0, 1]; got min={maps.min()}, max={maps.max()}"
                )
        for b in range(batch):
            validate_boxes(gt_boxes[b, : num_boxes[b]], name=f"gt_boxes[{b}] of this batch")
        histograms = self._mask_histograms(masks, maps_gt)  # validated before anything counts

        k = self._cam_index
        mode = "multi" if self.multi_contour else "largest"
        sets = [self.thresholds, self.curve_thresholds]
        scans = self.parallel_map(
            lambda b: ious_at_thresholds(maps_gt[b], gt_boxes[b, : num_boxes[b]], sets),
            range(batch),
        )  # the contour scans, in parallel when workers > 1; counted below in order
        for b, (at_tau, curve) in enumerate(scans):
            gt = gt_boxes[b, : num_boxes[b]]  # (m, 4)
            gt_ious, gt_best = at_tau[f"iou_{mode}"], at_tau[f"box_{mode}"]  # (T,), (T, 4)
            gt_ok = gt_ious >= self.iou_threshold  # (T,)
            correct_cls = bool(predictions[b] == labels[b])
            top1_ok = gt_ok & correct_cls  # (T,)
            curve_ok = curve[f"iou_{mode}"] >= self.iou_threshold  # (G,)
            self._curve_gt_known_hits += curve_ok
            self._curve_top1_hits += curve_ok & correct_cls
            self._maxboxacc_hits += curve["iou_largest"] >= MAXBOXACC_IOU
            for d, delta in enumerate(self.v2_iou_thresholds):
                self._v2_hits[d] += curve["iou_multi"] >= delta
            if histograms[b] is not None:
                self._mask_fg_hist += histograms[b][0]
                self._mask_bg_hist += histograms[b][1]
                self._num_masks += 1
            if correct_cls:
                top1_iou, top1_box = gt_ious[k], gt_best[k]
            elif maps_pred is not None:
                # Not needed for the metric; recorded so pictures can show the wrong CAM's box.
                pred_ious, pred_best = self._best_box(maps_pred[b], gt)
                top1_iou, top1_box = pred_ious[k], pred_best[k]
            else:
                top1_iou, top1_box = np.nan, np.full(4, -1, dtype=np.int64)

            self._gt_known_hits += gt_ok
            self._top1_hits += top1_ok
            self._num_correct_cls += int(correct_cls)
            rec = self._records
            rec["index"].append(self._num_images)
            rec["label"].append(int(labels[b]))
            rec["prediction"].append(int(predictions[b]))
            rec["correct_cls"].append(correct_cls)
            rec["gt_known_iou"].append(float(gt_ious[k]))
            rec["gt_known_box"].append(gt_best[k])
            rec["gt_known_correct"].append(bool(gt_ok[k]))
            rec["top1_iou"].append(float(top1_iou))
            rec["top1_box"].append(np.asarray(top1_box, dtype=np.int64))
            rec["top1_loc_correct"].append(bool(top1_ok[k]))
            self._num_images += 1

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

    def _mask_histograms(self, masks, maps_gt) -> list:
        """Per-image (fg, bg) PxAP histograms, or None where there is no mask."""
        batch = len(maps_gt)
        if masks is None:
            return [None] * batch
        if len(masks) != batch:
            raise ValueError(f"masks must have B={batch} entries; got {len(masks)}")
        if self.cam_curve_interval is None:
            raise ValueError("masks need the fine grid: cam_curve_interval must not be None")
        out = []
        for b in range(batch):
            if masks[b] is None:
                out.append(None)
                continue
            try:
                out.append(pxap_histograms(maps_gt[b], masks[b], self.curve_thresholds))
            except ValueError as error:
                raise ValueError(f"masks[{b}] of this batch: {error}") from None
        return out

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
        if self._num_images == 0:
            return self._compute_masks_only()
        n = float(self._num_images)
        gt_known = self._gt_known_hits * 100.0 / n  # (T,)
        top1 = self._top1_hits * 100.0 / n  # (T,)
        k = self._cam_index
        best_gt = int(np.argmax(gt_known))  # first maximum = lowest threshold on ties
        best_top1 = int(np.argmax(top1))
        # Thresholds rounded for readability (np.arange leaves 0.15000000000000002).
        shown = [round(float(t), 6) for t in self.thresholds]
        metrics = {
            "top1_clas": self._num_correct_cls * 100.0 / n,
            "gt_known_loc": float(gt_known[k]),
            "top1_loc": float(top1[k]),
            "num_images": int(self._num_images),
            "cam_threshold": float(self.cam_threshold),
            "iou_threshold": float(self.iou_threshold),
            "multi_contour": self.multi_contour,
            "per_threshold": [
                {
                    "threshold": shown[t],
                    "gt_known_loc": float(gt_known[t]),
                    "top1_loc": float(top1[t]),
                }
                for t in range(len(shown))
            ],
            "best_threshold": shown[best_gt],
            "best_gt_known_loc": float(gt_known[best_gt]),
            "best_top1_loc": float(top1[best_top1]),
            "best_top1_threshold": shown[best_top1],
            **self._compute_curve(n),
        }
        if self._mask_only_images:
            # Classification covers every image; the box metrics only those with boxes.
            total = self.num_evaluated
            metrics["top1_clas"] = (self._num_correct_cls + self._mask_only_correct) * 100.0 / total
            metrics["num_images"] = total
            metrics["num_images_with_box"] = self._num_images
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
            **self._pxap(),
            "num_images": n,
            "num_images_with_box": 0,
            "num_images_with_mask": int(self._num_masks),
            "cam_threshold": float(self.cam_threshold),
            "cam_curve_interval": self.cam_curve_interval,
        }

    def _compute_curve(self, n: float) -> dict:
        """Fine-grid metrics (MaxBoxAcc, MaxBoxAccV2, PxAP); {} without a grid."""
        if self.cam_curve_interval is None:
            return {}
        shown = [round(float(t), 6) for t in self.curve_thresholds]
        gt_known = self._curve_gt_known_hits * 100.0 / n  # (G,)
        top1 = self._curve_top1_hits * 100.0 / n  # (G,)
        # Same arithmetic as wsolevaluation: num_correct * 100. / float(cnt), then max.
        maxboxacc = self._maxboxacc_hits * 100.0 / n  # (G,)
        v2 = self._v2_hits * 100.0 / n  # (D, G)
        v2_best = [float(row.max()) for row in v2]
        best_gt, best_top1 = int(np.argmax(gt_known)), int(np.argmax(top1))
        return {
            "cam_curve_interval": self.cam_curve_interval,
            "curve": {
                "thresholds": shown,
                "gt_known_loc": gt_known.tolist(),
                "top1_loc": top1.tolist(),
                "best_threshold": shown[best_gt],
                "best_gt_known_loc": float(gt_known[best_gt]),
                "best_top1_threshold": shown[best_top1],
                "best_top1_loc": float(top1[best_top1]),
            },
            "maxboxacc": float(maxboxacc.max()),
            "maxboxacc_threshold": shown[int(np.argmax(maxboxacc))],
            "maxboxacc_v2": float(np.average(v2_best)),
            "maxboxacc_v2_per_iou": {
                str(delta): {"accuracy": v2_best[d], "threshold": shown[int(np.argmax(v2[d]))]}
                for d, delta in enumerate(self.v2_iou_thresholds)
            },
            **self._pxap(),
            "num_images_with_mask": int(self._num_masks),
        }

    def _pxap(self) -> dict:
        """{"pxap": value or None}; when the masks hold no object pixel (or no scored pixel)
        PxAP is undefined: None and "pxap_note" says why, so the box metrics of the same
        evaluation are still returned (wsolevaluation's division gives NaN there)."""
        if not self._num_masks:
            return {"pxap": None}
        try:
            return {"pxap": pxap_from_histograms(self._mask_fg_hist, self._mask_bg_hist)}
        except ValueError as error:
            return {"pxap": None, "pxap_note": f"{error} (PxAP undefined)"}

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
        rec = self._records
        n = self._num_images
        return {
            "index": np.asarray(rec["index"], dtype=np.int64),
            "label": np.asarray(rec["label"], dtype=np.int64),
            "prediction": np.asarray(rec["prediction"], dtype=np.int64),
            "correct_cls": np.asarray(rec["correct_cls"], dtype=bool),
            "gt_known_iou": np.asarray(rec["gt_known_iou"], dtype=np.float64),
            "gt_known_box": np.asarray(rec["gt_known_box"], dtype=np.int64).reshape(n, 4),
            "gt_known_correct": np.asarray(rec["gt_known_correct"], dtype=bool),
            "top1_iou": np.asarray(rec["top1_iou"], dtype=np.float64),
            "top1_box": np.asarray(rec["top1_box"], dtype=np.int64).reshape(n, 4),
            "top1_loc_correct": np.asarray(rec["top1_loc_correct"], dtype=bool),
        }
