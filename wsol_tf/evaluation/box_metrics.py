"""The box part of ``LocalizationEvaluator``: IoU of the score maps' boxes at every CAM
threshold, and the hits they count (GT-known Loc, Top-1 Loc, MaxBoxAcc, MaxBoxAccV2).

Contours are found once per distinct integer cut ``int(tau * max)`` per image and shared by
every threshold and metric (``boxes_by_level``); the rules are wsolevaluation's (see
``wsol_tf.evaluation.boxes`` and ``wsol_tf.evaluation.metrics``).
"""

from __future__ import annotations

import numpy as np

from wsol_tf.evaluation.boxes import boxes_by_level, scoremap_to_uint8, threshold_levels
from wsol_tf.evaluation.boxes import iou as box_iou

# wsolevaluation's MaxBoxAccV2 IoU thresholds (its iou_threshold_list 30, 50, 70 divided by 100).
MAXBOXACC_V2_IOUS = (0.3, 0.5, 0.7)
MAXBOXACC_IOU = 0.5


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


def _serial_map(fn, items) -> list:
    return [fn(x) for x in items]


class BoxAccumulator:
    """Hit counts of the images with GT boxes, per CAM threshold of the list and of the fine
    grid, plus a per-image record at ``cam_threshold`` (for pictures).

    Args (validated by ``LocalizationEvaluator``):
        thresholds: (T,) sorted thresholds holding ``cam_threshold`` exactly.
        cam_threshold: tau of the headline numbers.
        iou_threshold: IoU a box needs to count (``>=``).
        multi_contour: score the best contour's box instead of the largest contour's.
        cam_curve_interval: the fine grid's step, or None for no grid.
        curve_thresholds: (G,) the fine grid (empty without one).
        v2_iou_thresholds: the IoU deltas MaxBoxAccV2 averages over.
    """

    def __init__(
        self, *, thresholds, cam_threshold, iou_threshold, multi_contour, cam_curve_interval,
        curve_thresholds, v2_iou_thresholds,
    ):  # fmt: skip
        self.thresholds = thresholds
        self.cam_threshold = cam_threshold
        self.cam_index = int(np.argmin(np.abs(thresholds - cam_threshold)))
        self.iou_threshold = iou_threshold
        self.multi_contour = multi_contour
        self.mode = "multi" if multi_contour else "largest"
        self.cam_curve_interval = cam_curve_interval
        self.curve_thresholds = curve_thresholds
        self.v2_iou_thresholds = v2_iou_thresholds
        num_thresholds, grid = len(thresholds), len(curve_thresholds)
        self.num_images = 0
        self.num_correct_cls = 0
        self._gt_known_hits = np.zeros(num_thresholds, dtype=np.int64)  # (T,)
        self._top1_hits = np.zeros(num_thresholds, dtype=np.int64)  # (T,)
        self._curve_gt_known_hits = np.zeros(grid, dtype=np.int64)  # (G,)
        self._curve_top1_hits = np.zeros(grid, dtype=np.int64)  # (G,)
        self._maxboxacc_hits = np.zeros(grid, dtype=np.int64)  # (G,) largest contour, IoU 0.5
        self._v2_hits = np.zeros((len(v2_iou_thresholds), grid), dtype=np.int64)  # (D, G)
        self._records: dict[str, list] = {key: [] for key in _RECORD_KEYS}

    def add(self, batch, map_fn=_serial_map) -> None:
        """Count a checked ``BoxBatch`` (``wsol_tf.evaluation.batch_check``), image by image.

        Args:
            batch: the checked batch.
            map_fn: ``(fn, items) -> [fn(x) for x in items]``, e.g. on a thread pool: runs
                the contour scans; they are counted in image order whatever it does.
        """
        sets = [self.thresholds, self.curve_thresholds]
        scans = map_fn(
            lambda b: ious_at_thresholds(batch.maps_gt[b], batch.gt(b), sets),
            range(len(batch.labels)),
        )
        for b, (at_tau, curve) in enumerate(scans):
            correct_cls = bool(batch.predictions[b] == batch.labels[b])
            gt_ious, gt_best = at_tau[f"iou_{self.mode}"], at_tau[f"box_{self.mode}"]  # (T,)
            gt_ok = gt_ious >= self.iou_threshold  # (T,)
            top1_ok = gt_ok & correct_cls  # (T,)
            self._count_curve(curve, correct_cls)
            top1_iou, top1_box = self._top1_box(batch, b, correct_cls, gt_ious, gt_best)
            self._gt_known_hits += gt_ok
            self._top1_hits += top1_ok
            self.num_correct_cls += int(correct_cls)
            k = self.cam_index
            self._record(
                label=int(batch.labels[b]), prediction=int(batch.predictions[b]),
                correct_cls=correct_cls, gt_known_iou=float(gt_ious[k]),
                gt_known_box=gt_best[k], gt_known_correct=bool(gt_ok[k]),
                top1_iou=float(top1_iou), top1_box=np.asarray(top1_box, dtype=np.int64),
                top1_loc_correct=bool(top1_ok[k]),
            )  # fmt: skip

    def _count_curve(self, curve, correct_cls: bool) -> None:
        """The fine grid's hits: GT-known / Top-1 in the evaluator's mode, MaxBoxAcc (largest
        contour, IoU 0.5) and MaxBoxAccV2 (best contour, each delta)."""
        curve_ok = curve[f"iou_{self.mode}"] >= self.iou_threshold  # (G,)
        self._curve_gt_known_hits += curve_ok
        self._curve_top1_hits += curve_ok & correct_cls
        self._maxboxacc_hits += curve["iou_largest"] >= MAXBOXACC_IOU
        for d, delta in enumerate(self.v2_iou_thresholds):
            self._v2_hits[d] += curve["iou_multi"] >= delta

    def _top1_box(self, batch, b, correct_cls, gt_ious, gt_best):
        """IoU and box of the predicted class's map at ``cam_threshold`` (record only)."""
        k = self.cam_index
        if correct_cls:
            return gt_ious[k], gt_best[k]
        if batch.maps_pred is not None:
            # Not needed for the metric; recorded so pictures can show the wrong CAM's box.
            (at_tau,) = ious_at_thresholds(batch.maps_pred[b], batch.gt(b), [self.thresholds])
            return at_tau[f"iou_{self.mode}"][k], at_tau[f"box_{self.mode}"][k]
        return np.nan, np.full(4, -1, dtype=np.int64)

    def _record(self, **values) -> None:
        values["index"] = self.num_images
        for key in _RECORD_KEYS:
            self._records[key].append(values[key])
        self.num_images += 1

    def compute(self) -> dict:
        """The box metrics, in metrics.json's order (see ``LocalizationEvaluator.compute``);
        ``top1_clas`` over the box images. Needs ``num_images`` > 0."""
        n = float(self.num_images)
        gt_known = self._gt_known_hits * 100.0 / n  # (T,)
        top1 = self._top1_hits * 100.0 / n  # (T,)
        k = self.cam_index
        best_gt = int(np.argmax(gt_known))  # first maximum = lowest threshold on ties
        best_top1 = int(np.argmax(top1))
        # Thresholds rounded for readability (np.arange leaves 0.15000000000000002).
        shown = [round(float(t), 6) for t in self.thresholds]
        return {
            "top1_clas": self.num_correct_cls * 100.0 / n,
            "gt_known_loc": float(gt_known[k]),
            "top1_loc": float(top1[k]),
            "num_images": int(self.num_images),
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

    def _compute_curve(self, n: float) -> dict:
        """Fine-grid box metrics (MaxBoxAcc, MaxBoxAccV2); {} without a grid."""
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
        }

    def per_image(self) -> dict[str, np.ndarray]:
        """The records as arrays (see ``LocalizationEvaluator.per_image``)."""
        rec = self._records
        n = self.num_images
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


_RECORD_KEYS = (
    "index", "label", "prediction", "correct_cls", "gt_known_iou", "gt_known_box",
    "gt_known_correct", "top1_iou", "top1_box", "top1_loc_correct",
)  # fmt: skip
