"""Tests for wsol_tf.evaluation.metrics.LocalizationEvaluator on hand-built maps, known IoUs."""

import json

import numpy as np
import pytest

from wsol_tf.evaluation.metrics import LocalizationEvaluator

H, W = 40, 64


def _map_with_box(box, shape=(H, W)):
    """A score map whose box (wsolevaluation rule) is exactly ``box`` = (x0, y0, x1, y1).

    boundingRect gives x1 = last column + 1, so fill columns x0..x1-1 and rows y0..y1-1.
    """
    x0, y0, x1, y1 = box
    m = np.zeros(shape)
    m[y0:y1, x0:x1] = 1.0
    return m


def _nested_map(outer_level, middle_level):
    """Nested plateaus: outer box (2,2,62,38), middle (16,10,48,30), core at 1 (30,18,34,22)."""
    m = np.zeros((H, W))
    m[2:38, 2:62] = outer_level
    m[10:30, 16:48] = middle_level
    m[18:22, 30:34] = 1.0
    return m


MATCH = (10, 5, 30, 20)  # a CAM box that equals its GT box: IoU 1
FAR = (40, 25, 60, 35)


def _hand_batch():
    """Five images with known outcomes at tau = 0.2, delta = 0.5.

    0: right class, IoU 1          -> clas yes, gt-known yes, top-1 loc yes
    1: WRONG class, GT CAM IoU 1   -> clas no,  gt-known yes, top-1 loc no
    2: right class, 2 GT boxes, only the second matches -> yes, yes, yes
    3: right class, IoU 1/3        -> yes, no, no
    4: wrong class, IoU 0          -> no, no, no
    """
    maps_gt = np.stack(
        [
            _map_with_box(MATCH),
            _map_with_box(MATCH),
            _map_with_box(MATCH),
            _map_with_box((0, 0, 9, 9)),
            _map_with_box(MATCH),
        ]
    )
    # Where prediction == label the evaluator must use maps_gt; zeros here would give IoU ~0.
    maps_pred = np.zeros_like(maps_gt)
    maps_pred[1] = _map_with_box(FAR)  # wrong class's CAM points elsewhere
    maps_pred[4] = _map_with_box(MATCH)  # right place, wrong class: still not Top-1 Loc
    predictions = np.array([3, 7, 1, 2, 0])
    labels = np.array([3, 2, 1, 2, 5])
    pad = [-1, -1, -1, -1]  # padding is never validated or used
    gt_boxes = np.array(
        [
            [MATCH, pad],
            [MATCH, pad],
            [FAR, MATCH],  # first GT box misses, second matches
            [(5, 0, 14, 9), pad],  # vs predicted (0, 0, 9, 9): 50 / 150
            [FAR, pad],
        ]
    )
    num_boxes = np.array([1, 1, 2, 1, 1])
    return maps_gt, maps_pred, predictions, labels, gt_boxes, num_boxes


def test_hand_batch_metrics():
    ev = LocalizationEvaluator(cam_threshold=0.2)
    ev.accumulate(*_hand_batch())
    res = ev.compute()
    assert res["num_images"] == 5
    assert res["top1_clas"] == pytest.approx(60.0)
    assert res["gt_known_loc"] == pytest.approx(60.0)
    assert res["top1_loc"] == pytest.approx(40.0)
    assert res["cam_threshold"] == 0.2 and res["iou_threshold"] == 0.5
    json.dumps(res)  # plain Python types only

    rec = ev.per_image()
    np.testing.assert_array_equal(rec["index"], np.arange(5))
    np.testing.assert_allclose(rec["gt_known_iou"], [1, 1, 1, 1 / 3, 0])
    np.testing.assert_array_equal(rec["correct_cls"], [1, 0, 1, 1, 0])
    np.testing.assert_array_equal(rec["gt_known_correct"], [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(rec["top1_loc_correct"], [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(rec["gt_known_box"][3], [0, 0, 9, 9])
    # Top-1 records: the predicted class's box where the class is wrong.
    np.testing.assert_array_equal(rec["top1_box"][1], FAR)
    np.testing.assert_allclose(rec["top1_iou"], [1, 0, 1, 1 / 3, 0])


def test_box_maps_are_flat_plateaus_so_every_threshold_agrees():
    ev = LocalizationEvaluator()
    ev.accumulate(*_hand_batch())
    res = ev.compute()
    assert [s["threshold"] for s in res["per_threshold"]] == [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35]
    for s in res["per_threshold"]:
        assert s["gt_known_loc"] == pytest.approx(60.0)
        assert s["top1_loc"] == pytest.approx(40.0)


def test_two_batches_equal_one_batch():
    batch = _hand_batch()
    one = LocalizationEvaluator()
    one.accumulate(*batch)
    two = LocalizationEvaluator()
    two.accumulate(*(x[:3] for x in batch))
    two.accumulate(*(x[3:] for x in batch))
    assert one.compute() == two.compute()
    for key, value in one.per_image().items():
        np.testing.assert_array_equal(value, two.per_image()[key])


def test_without_pred_maps_metrics_unchanged_and_records_unknown():
    batch = list(_hand_batch())
    batch[1] = None
    ev = LocalizationEvaluator()
    ev.accumulate(*batch)
    res = ev.compute()
    assert (res["top1_clas"], res["gt_known_loc"], res["top1_loc"]) == pytest.approx((60, 60, 40))
    rec = ev.per_image()
    assert np.isnan(rec["top1_iou"][[1, 4]]).all()
    np.testing.assert_array_equal(rec["top1_box"][1], [-1, -1, -1, -1])


def test_sweep_picks_the_threshold_that_wins():
    # GT = the middle plateau. uint8 levels: image A middle 0.27 -> 68, outer 0.12 -> 30;
    # image B outer 0.21 -> 53, middle 0.30 -> 76. int(tau * 255) for 0.05..0.35:
    # 12, 25, 38, 51, 63, 76, 89. A finds the middle at 0.15, 0.2, 0.25; B only at 0.25
    # (at 0.2, 53 > 51 keeps the outer plateau; at 0.3, 76 > 76 fails so only the core is left).
    maps = np.stack([_nested_map(0.12, 0.27), _nested_map(0.21, 0.30)])
    gt = np.array([[(16, 10, 48, 30)], [(16, 10, 48, 30)]])
    ev = LocalizationEvaluator(cam_threshold=0.2)
    ev.accumulate(maps, maps, np.array([1, 1]), np.array([1, 1]), gt, np.array([1, 1]))
    res = ev.compute()
    by_tau = {s["threshold"]: s["gt_known_loc"] for s in res["per_threshold"]}
    assert by_tau == {0.05: 0, 0.1: 0, 0.15: 50, 0.2: 50, 0.25: 100, 0.3: 0, 0.35: 0}
    assert res["best_threshold"] == 0.25
    assert res["best_gt_known_loc"] == 100.0
    assert res["best_top1_loc"] == 100.0 and res["best_top1_threshold"] == 0.25
    assert res["gt_known_loc"] == 50.0  # the headline number stays at cam_threshold


def test_cam_threshold_joins_the_sweep_once():
    assert len(LocalizationEvaluator(cam_threshold=0.2).thresholds) == 7
    ev = LocalizationEvaluator(cam_threshold=0.22, thresholds=[0.1, 0.3, 0.1])
    np.testing.assert_allclose(ev.thresholds, [0.1, 0.22, 0.3])


def test_multi_contour_scores_the_best_box():
    m = np.zeros((H, W))
    m[5:15, 5:25] = 1.0  # big blob, box (5, 5, 25, 15)
    m[25:30, 40:45] = 0.9  # small blob, box (40, 25, 45, 30) = GT
    args = (m[None], m[None], np.array([0]), np.array([0]), np.array([[(40, 25, 45, 30)]]), [1])
    single = LocalizationEvaluator()
    single.accumulate(*args)
    multi = LocalizationEvaluator(multi_contour=True)
    multi.accumulate(*args)
    assert single.compute()["gt_known_loc"] == 0.0
    assert multi.compute()["gt_known_loc"] == 100.0
    np.testing.assert_array_equal(multi.per_image()["gt_known_box"][0], (40, 25, 45, 30))


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"cam_threshold": 1.5}, "cam_threshold"),
        ({"iou_threshold": 0.0}, "iou_threshold"),
        ({"thresholds": [0.1, -0.2]}, "thresholds"),
        ({"thresholds": []}, "thresholds"),
        ({"cam_threshold": "high"}, "cam_threshold"),
    ],
)
def test_constructor_validation(kwargs, word):
    with pytest.raises(ValueError, match=word):
        LocalizationEvaluator(**kwargs)


def test_accumulate_refuses_bad_input_and_keeps_state():
    ev = LocalizationEvaluator()
    good = _hand_batch()

    bad = list(good)
    bad[0] = good[0].copy()
    bad[0][2, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ev.accumulate(*bad)

    bad = list(good)
    bad[4] = good[4].copy()
    bad[4][1, 0] = (20, 0, 10, 5)  # x1 < x0 in a valid slot
    with pytest.raises(ValueError, match=r"gt_boxes\[1\]"):
        ev.accumulate(*bad)

    bad = list(good)
    bad[5] = np.array([1, 0, 2, 1, 1])
    with pytest.raises(ValueError, match="num_boxes"):
        ev.accumulate(*bad)

    bad = list(good)
    bad[0] = good[0][:, :, :10]
    with pytest.raises(ValueError, match="scoremaps_pred"):
        ev.accumulate(*bad)

    bad = list(good)
    bad[2] = good[2][:4]
    with pytest.raises(ValueError, match="predictions"):
        ev.accumulate(*bad)

    bad = list(good)
    bad[0] = good[0] * 3
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ev.accumulate(*bad)

    assert ev.num_images == 0
    with pytest.raises(RuntimeError):
        ev.compute()
    ev.accumulate(*good)
    assert ev.num_images == 5
    ev.reset()
    assert ev.num_images == 0 and len(ev.per_image()["index"]) == 0


# --- MaxBoxAcc, MaxBoxAccV2 (fine grid) ------------------------------------------------------


def _two_blob_map():
    """Big blob (5, 5, 25, 15) at 1.0 and a small one (40, 25, 45, 30) at 0.5 (uint8 127)."""
    m = np.zeros((H, W))
    m[5:15, 5:25] = 1.0
    m[25:30, 40:45] = 0.5
    return m


def test_maxboxacc_and_v2_hand_built():
    # Image 0: GT = the small blob. Largest contour = big blob -> IoU 0 at every tau (v1 misses);
    # all contours: the small blob's box has IoU 1 while 127 > int(tau * 255), i.e. tau < 0.5.
    # Image 1: one blob (10, 5, 30, 20) vs GT (10, 5, 30, 12): IoU (21*8)/(21*16) = 0.5 exactly
    # with the +1 convention -> counts at delta 0.3 and 0.5 (>=), not 0.7.
    maps = np.stack([_two_blob_map(), _map_with_box((10, 5, 30, 20))])
    gt = np.array([[(40, 25, 45, 30)], [(10, 5, 30, 12)]])
    ev = LocalizationEvaluator()
    ev.accumulate(maps, None, np.array([0, 1]), np.array([0, 1]), gt, np.array([1, 1]))
    res = ev.compute()
    assert res["maxboxacc"] == 50.0
    assert res["maxboxacc_threshold"] == 0.0  # flat plateaus: the first grid point already wins
    per_iou = res["maxboxacc_v2_per_iou"]
    assert [per_iou[k]["accuracy"] for k in ("0.3", "0.5", "0.7")] == [100.0, 100.0, 50.0]
    assert res["maxboxacc_v2"] == pytest.approx(250.0 / 3, abs=1e-12)
    assert len(res["curve"]["thresholds"]) == 1000
    # Largest-contour GT-known over the grid: image 1 only while the blob survives (tau < 1).
    assert res["curve"]["best_gt_known_loc"] == 50.0
    assert res["pxap"] is None and res["num_images_with_mask"] == 0
    json.dumps(res)


def test_maxboxacc_best_threshold_on_nested_plateaus():
    # GT = middle plateau (uint8 127 inside an outer ring at 51). The middle box appears when
    # int(tau * 255) >= 51, first at tau = 0.2 (0.2 * 255 = 51.0...), and holds until 127.
    maps = _nested_map(0.2, 0.5)[None]
    gt = np.array([[(16, 10, 48, 30)]])
    ev = LocalizationEvaluator()
    ev.accumulate(maps, None, np.array([0]), np.array([0]), gt, np.array([1]))
    res = ev.compute()
    assert res["maxboxacc"] == 100.0
    assert res["maxboxacc_threshold"] == 0.2
    curve = dict(zip(res["curve"]["thresholds"], res["curve"]["gt_known_loc"], strict=True))
    assert curve[0.199] == 0.0 and curve[0.2] == 100.0 and curve[0.498] == 100.0
    assert curve[0.5] == 0.0  # int(0.5 * 255) = 127: 127 > 127 fails, only the core remains


def _reference_box_accuracies(maps, gt_lists, grid, deltas, multi_contour):
    """wsolevaluation's BoxEvaluator as a plain loop: per-threshold boxes, then counts."""
    from wsol_tf.evaluation.boxes import boxes_from_scoremap_loop, iou

    correct = {d: np.zeros(len(grid)) for d in deltas}
    for m, gt in zip(maps, gt_lists, strict=True):
        per_tau = boxes_from_scoremap_loop(m, grid, multi_contour)
        best = np.array([iou(boxes, gt).max() for boxes in per_tau])
        for d in deltas:
            correct[d][np.where(best >= d)[0]] += 1
    return [float((correct[d] * 100.0 / float(len(maps))).max()) for d in deltas]


def test_maxboxacc_equals_a_plain_per_threshold_reference():
    rng = np.random.default_rng(11)
    import cv2

    maps, gts = [], []
    for _ in range(12):
        small = rng.random((4, 6))
        m = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
        maps.append((m - m.min()) / (m.max() - m.min()))
        x0, y0 = rng.integers(0, W // 2), rng.integers(0, H // 2)
        boxes = [(x0, y0, x0 + rng.integers(5, W // 2), y0 + rng.integers(5, H // 2))]
        boxes.append((0, 0, rng.integers(5, W), rng.integers(5, H)))
        gts.append(np.array(boxes))
    grid = np.arange(0, 1, 0.01)
    ev = LocalizationEvaluator(cam_curve_interval=0.01)
    labels = np.zeros(12, dtype=np.int64)
    ev.accumulate(np.stack(maps), None, labels, labels, np.stack(gts), np.full(12, 2))
    res = ev.compute()
    (v1,) = _reference_box_accuracies(maps, gts, grid, [0.5], multi_contour=False)
    v2 = _reference_box_accuracies(maps, gts, grid, [0.3, 0.5, 0.7], multi_contour=True)
    assert res["maxboxacc"] == v1
    assert [res["maxboxacc_v2_per_iou"][k]["accuracy"] for k in ("0.3", "0.5", "0.7")] == v2
    assert res["maxboxacc_v2"] == float(np.average(v2))
    assert 0 < res["maxboxacc"] < 100  # the case is not trivial


def test_no_grid_and_grid_validation():
    ev = LocalizationEvaluator(cam_curve_interval=None)
    ev.accumulate(*_hand_batch())
    assert "maxboxacc" not in ev.compute()
    for bad in (0.0, 1.0, -0.1, 1e-9):  # 1e-9: a grid of 1e9 thresholds, gigabytes each
        with pytest.raises(ValueError, match="cam_curve_interval"):
            LocalizationEvaluator(cam_curve_interval=bad)


def test_masks_give_pxap_and_are_validated():
    from wsol_tf.evaluation.pxap import pxap

    maps_gt = _hand_batch()[0]
    masks = np.zeros(maps_gt.shape, dtype=np.uint8)
    masks[:, 5:20, 10:30] = 1
    masks[:, 0, :] = 255
    batch = list(_hand_batch())
    ev = LocalizationEvaluator(cam_curve_interval=0.01)
    ev.accumulate(*batch, masks=list(masks[:4]) + [None])
    res = ev.compute()
    assert res["num_images_with_mask"] == 4
    assert res["pxap"] == pytest.approx(pxap(maps_gt[:4], masks[:4], np.arange(0, 1, 0.01)))
    bad = masks.copy()
    bad[2, 0, 0] = 7
    with pytest.raises(ValueError, match=r"masks\[2\]"):
        LocalizationEvaluator().accumulate(*batch, masks=bad)
