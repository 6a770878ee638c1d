"""The vectorized per-level IoU table of the threshold sweep against a plain per-level loop."""

import numpy as np

from wsol_tf.evaluation.boxes import iou
from wsol_tf.evaluation.metrics import _best_per_level


def loop_reference(per_level, gt_boxes):
    rows = []
    for boxes, largest in per_level:
        best = iou(boxes, gt_boxes).max(axis=1)
        j = int(np.argmax(best))  # first maximum
        rows.append((best[largest], boxes[largest], best[j], boxes[j]))
    return [np.array([r[k] for r in rows]) for k in range(4)]


def random_level(rng, width=37, height=23):
    n = int(rng.integers(1, 6))
    x0 = rng.integers(0, width - 1, n)
    y0 = rng.integers(0, height - 1, n)
    boxes = np.stack([x0, y0, rng.integers(x0, width), rng.integers(y0, height)], axis=1).astype(
        np.int64
    )
    if n > 2 and rng.random() < 0.5:
        boxes[2] = boxes[0]  # equal IoUs: the first maximum must win
    return boxes, int(rng.integers(0, n))


def test_matches_the_per_level_loop_including_ties():
    rng = np.random.default_rng(3)
    gt = np.array([[3, 2, 20, 15], [10, 5, 36, 22]])
    per_level = [random_level(rng) for _ in range(200)]
    per_level.append((np.zeros((1, 4), np.int64), 0))  # the no-contour answer
    got = _best_per_level(per_level, gt)
    want = loop_reference(per_level, gt)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_first_maximum_is_picked_among_identical_boxes():
    gt = np.array([[0, 0, 9, 9]])
    a = np.array([[0, 0, 4, 9], [20, 20, 30, 30], [0, 0, 9, 4]])  # IoU 0.5, 0, 0.5
    iou_largest, box_largest, iou_multi, box_multi = _best_per_level([(a, 1)], gt)
    assert iou_largest.tolist() == [0.0] and box_largest.tolist() == [[20, 20, 30, 30]]
    assert iou_multi.tolist() == [0.5] and box_multi.tolist() == [[0, 0, 4, 9]]


def test_no_levels_gives_empty_tables():
    out = _best_per_level([], np.array([[0, 0, 1, 1]]))
    assert [o.shape for o in out] == [(0,), (0, 4), (0,), (0, 4)]
