"""Tests for wsol_tf.evaluation.boxes: boxes from score maps (wsolevaluation rules), IoU."""

import numpy as np
import pytest

from wsol_tf.evaluation.boxes import (
    box_from_scoremap,
    boxes_from_scoremap,
    iou,
    rescale_boxes,
    validate_boxes,
)


def _block_map(shape, blocks):
    """Zeros with given (rows, cols, value) blocks; rows/cols are inclusive (start, end)."""
    m = np.zeros(shape)
    for (r0, r1), (c0, c1), value in blocks:
        m[r0 : r1 + 1, c0 : c1 + 1] = value
    return m


def test_rectangle_gives_exact_box_non_square():
    # 7 x 11 map, blob on rows 2..4 and cols 3..7: boundingRect's x + w is one past the last
    # column, so the box is (3, 2, 8, 5).
    m = _block_map((7, 11), [((2, 4), (3, 7), 1.0)])
    out = boxes_from_scoremap(m, [0.2, 0.5])
    assert len(out) == 2
    for boxes in out:
        assert boxes.dtype == np.int64
        np.testing.assert_array_equal(boxes, [[3, 2, 8, 5]])
    np.testing.assert_array_equal(box_from_scoremap(m, 0.2), [3, 2, 8, 5])


def test_graded_blob_threshold_picks_level():
    # 40 x 64: a wide low plateau with a high core; the box shrinks as tau rises.
    m = _block_map((40, 64), [((5, 34), (4, 59), 0.3), ((15, 24), (20, 39), 1.0)])
    low, high = boxes_from_scoremap(m, [0.2, 0.5])
    np.testing.assert_array_equal(low, [[4, 5, 60, 35]])
    np.testing.assert_array_equal(high, [[20, 15, 40, 25]])


def test_two_blobs_single_vs_multi_contour():
    m = _block_map((40, 64), [((5, 14), (5, 24), 1.0), ((25, 29), (40, 44), 0.9)])
    (single,) = boxes_from_scoremap(m, [0.2])
    np.testing.assert_array_equal(single, [[5, 5, 25, 15]])
    (multi,) = boxes_from_scoremap(m, [0.2], multi_contour=True)
    got = sorted(map(tuple, multi.tolist()))
    assert got == [(5, 5, 25, 15), (40, 25, 45, 30)]


def test_empty_map_and_nothing_above_threshold():
    for boxes in boxes_from_scoremap(np.zeros((7, 11)), [0.0, 0.2, 0.9]):
        np.testing.assert_array_equal(boxes, [[0, 0, 0, 0]])
    # tau = 1: threshold = max and the test is strict, so nothing survives.
    m = _block_map((7, 11), [((2, 4), (3, 7), 1.0)])
    np.testing.assert_array_equal(boxes_from_scoremap(m, [1.0])[0], [[0, 0, 0, 0]])


def test_box_clipped_at_border():
    # Blob touching the bottom-right corner: x + w = 11 -> 10 (W - 1), y + h = 7 -> 6 (H - 1).
    m = _block_map((7, 11), [((4, 6), (6, 10), 1.0)])
    np.testing.assert_array_equal(box_from_scoremap(m, 0.2), [6, 4, 10, 6])
    full = np.ones((7, 11))
    np.testing.assert_array_equal(box_from_scoremap(full, 0.2), [0, 0, 10, 6])


def test_strict_threshold_at_int_tau_times_max():
    # int(0.2 * 255) = 51. Pixels worth exactly 51 (uint8) are excluded; 52 is included.
    # Values (v + 0.5) / 255 make uint8(map * 255) == v without float truncation surprises.
    m = _block_map(
        (7, 11),
        [
            ((1, 5), (0, 3), 51.5 / 255),  # 20 pixels at 51: would be the largest if kept
            ((2, 4), (5, 7), 52.5 / 255),  # 9 pixels at 52
            ((6, 6), (10, 10), 1.0),  # the maximum, 255
        ],
    )
    assert int(0.2 * 255) == 51
    assert ((m * 255).astype(np.uint8) == 51).sum() == 20
    np.testing.assert_array_equal(box_from_scoremap(m, 0.2), [5, 2, 8, 5])
    (multi,) = boxes_from_scoremap(m, [0.2], multi_contour=True)
    assert sorted(map(tuple, multi.tolist())) == [(5, 2, 8, 5), (10, 6, 10, 6)]
    # A slightly lower tau (int(0.19 * 255) = 48) lets the 51-plateau in; it is the largest.
    np.testing.assert_array_equal(box_from_scoremap(m, 0.19), [0, 1, 4, 6])


def test_single_contour_box_is_one_of_the_multi_contour_boxes():
    rng = np.random.default_rng(3)
    m = rng.random((20, 33))
    m = m / m.max()
    thresholds = np.arange(0.05, 0.96, 0.15)
    singles = boxes_from_scoremap(m, thresholds)
    multis = boxes_from_scoremap(m, thresholds, multi_contour=True)
    for single, multi in zip(singles, multis, strict=True):
        assert single.shape == (1, 4)
        assert any((row == single[0]).all() for row in multi)


def test_scoremap_validation():
    with pytest.raises(ValueError, match="NaN"):
        boxes_from_scoremap(np.full((3, 5), np.nan), [0.2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        boxes_from_scoremap(np.full((3, 5), 2.0), [0.2])
    with pytest.raises(ValueError, match="2D"):
        boxes_from_scoremap(np.zeros((1, 3, 5)), [0.2])


def test_iou_hand_values():
    assert iou([0, 0, 9, 9], [0, 0, 9, 9])[0, 0] == 1.0
    # 10 x 10 boxes sharing 5 columns: 50 / (100 + 100 - 50).
    assert iou([0, 0, 9, 9], [5, 0, 14, 9])[0, 0] == pytest.approx(1 / 3)
    # One shared column (x = 4): 5 / (25 + 25 - 5).
    assert iou([0, 0, 4, 4], [4, 0, 8, 4])[0, 0] == pytest.approx(1 / 9)
    # Non-square boxes crossing: 10x5 and 5x10 share 5x5 -> 25 / 75.
    assert iou([0, 0, 9, 4], [0, 0, 4, 9])[0, 0] == pytest.approx(1 / 3)
    # A single-pixel box against itself has area 1.
    assert iou([0, 0, 0, 0], [0, 0, 0, 0])[0, 0] == 1.0
    # Float boxes.
    assert iou([0.0, 0.0, 1.5, 1.5], [0.0, 0.0, 1.5, 1.5])[0, 0] == 1.0


def test_iou_disjoint_and_adjacent_are_zero():
    assert iou([0, 0, 4, 4], [10, 10, 12, 12])[0, 0] == 0.0
    # Adjacent (columns 0..4 and 5..9) share no pixel.
    assert iou([0, 0, 4, 4], [5, 0, 9, 4])[0, 0] == 0.0


def test_iou_broadcasts_to_n_by_m():
    a = np.array([[0, 0, 9, 9], [5, 0, 14, 9], [100, 100, 101, 101]])
    b = np.array([[0, 0, 9, 9], [5, 0, 14, 9]])
    out = iou(a, b)
    assert out.shape == (3, 2)
    np.testing.assert_allclose(out, [[1, 1 / 3], [1 / 3, 1], [0, 0]])
    np.testing.assert_allclose(iou(b, a), out.T)


def test_rescale_boxes_golden():
    boxes = np.array([[10, 20, 30, 40]])
    # (H, W) 100 x 200 -> 224 x 224: x scales by 1.12, y by 2.24.
    out = rescale_boxes(boxes, (100, 200), (224, 224))
    np.testing.assert_allclose(out, [[11.2, 44.8, 33.6, 89.6]])
    truncated = rescale_boxes(boxes, (100, 200), (224, 224), truncate=True)
    assert truncated.dtype == np.int64
    np.testing.assert_array_equal(truncated, [[11, 44, 33, 89]])
    # Batched (B, M, 4) keeps its shape.
    assert rescale_boxes(np.zeros((2, 3, 4)), (10, 20), (5, 5)).shape == (2, 3, 4)


def test_validate_boxes_names_the_culprit():
    good = np.array([[0, 0, 5, 5], [1, 2, 1, 2]])
    assert validate_boxes(good, "gt") is not None
    with pytest.raises(ValueError, match=r"my_boxes.*\[5, 0, 4, 5\]"):
        validate_boxes(np.array([[0, 0, 5, 5], [5, 0, 4, 5]]), "my_boxes")
    with pytest.raises(ValueError, match="pred"):
        validate_boxes([0, 6, 5, 5], "pred")
    with pytest.raises(ValueError, match="gt_boxes"):
        validate_boxes([[0, 0, np.nan, 5]], "gt_boxes")
    with pytest.raises(ValueError, match="gt_boxes"):
        validate_boxes([[0, 0, np.inf, 5]], "gt_boxes")
    with pytest.raises(ValueError, match="shaped"):
        validate_boxes(np.zeros((2, 3)), "x")


# --- the fast exact sweep and GT geometry ---------------------------------------------------


def _random_maps(seed, count=6, shape=(37, 53)):
    """Smooth random maps with several blobs (upsampled noise), normalised to [0, 1]."""
    import cv2

    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(count):
        small = rng.random((5, 7))
        m = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
        m = (m - m.min()) / (m.max() - m.min())
        maps.append(m * rng.uniform(0.3, 1.0))  # max below 1 on purpose: max uint8 < 255
    return maps


@pytest.mark.parametrize("multi_contour", [False, True])
def test_grouped_sweep_equals_per_threshold_loop(multi_contour):
    from wsol_tf.evaluation.boxes import boxes_from_scoremap_loop

    grid = np.arange(0, 1, 0.001)
    for m in _random_maps(seed=7) + [np.zeros((9, 14))]:
        fast = boxes_from_scoremap(m, grid, multi_contour)
        slow = boxes_from_scoremap_loop(m, grid, multi_contour)
        assert len(fast) == len(slow) == len(grid)
        for a, b in zip(fast, slow, strict=True):
            np.testing.assert_array_equal(a, b)


def test_threshold_levels_truncate_like_int():
    from wsol_tf.evaluation.boxes import threshold_levels

    taus = np.arange(0, 1, 0.001)
    for max_value in (0, 1, 77, 200, 255):
        expected = [int(t * np.uint8(max_value)) for t in taus]
        np.testing.assert_array_equal(threshold_levels(taus, max_value), expected)
    np.testing.assert_array_equal(threshold_levels([0.2, 0.5, 0.999], 255), [51, 127, 254])


def test_levels_at_or_above_max_give_no_box():
    from wsol_tf.evaluation.boxes import boxes_by_level

    image = np.zeros((6, 9), np.uint8)
    image[1:3, 2:5] = 100
    out = boxes_by_level(image, [99, 100, 180, 99])
    assert sorted(out) == [99, 100, 180]
    np.testing.assert_array_equal(out[99][0], [[2, 1, 5, 3]])
    for level in (100, 180):
        np.testing.assert_array_equal(out[level][0], [[0, 0, 0, 0]])


def test_gt_boxes_plain_resize_is_wsolevaluation_resize_bbox():
    from wsol_tf.evaluation.boxes import gt_boxes_for_input

    # CUB image 500 x 335 (W x H), box (60, 27, 385, 331) -> 224 x 224:
    # int(60*224/500)=26, int(27*224/335)=18, int(385*224/500)=172, int(331*224/335)=221.
    got = gt_boxes_for_input([[60, 27, 385, 331]], (335, 500), (224, 224))
    np.testing.assert_array_equal(got, [[26, 18, 172, 221]])
    # Non-square input, box past the image edge: no clipping, as resize_bbox.
    got = gt_boxes_for_input([[0, 0, 210, 100]], (100, 200), (32, 48), resize_size=(32, 48))
    np.testing.assert_array_equal(got, [[0, 0, 50, 32]])


def test_gt_boxes_follow_resize_then_centre_crop():
    from wsol_tf.evaluation.boxes import gt_boxes_for_input

    # (H, W) 100 x 200 -> resize 40 x 60 (scale y 0.4, x 0.3) -> crop 32 x 48 at (y 4, x 6).
    # (10, 20, 150, 90) -> (3, 8, 45, 36) -> shift (-3, 4, 39, 32) -> clip (0, 4, 39, 32).
    got = gt_boxes_for_input([[10, 20, 150, 90]], (100, 200), (32, 48), resize_size=(40, 60))
    np.testing.assert_array_equal(got, [[0, 4, 39, 32]])
    assert got.dtype == np.int64
    with pytest.raises(ValueError, match="resize_size"):
        gt_boxes_for_input([[0, 0, 1, 1]], (10, 10), (32, 48), resize_size=(30, 60))


def covered_pixels(boxes, input_hw, original_hw):
    """numpy reference of `boxes_to_original`: the original pixels an input box covers."""
    (h, w), (height, width) = input_hw, original_hw
    scale = np.array([width / w, height / h])
    boxes = np.asarray(boxes, np.float64)
    starts = np.floor(boxes[:, :2] * scale + 1e-3)
    ends = np.maximum(np.ceil((boxes[:, 2:] + 1) * scale - 1e-3) - 1, starts)
    return np.clip(np.concatenate([starts, ends], 1), 0, [width - 1, height - 1] * 2)


def test_boxes_to_original_golden_and_numpy_reference():
    from wsol_tf.deployment.localize_ops import boxes_to_original

    def convert(boxes, input_hw, original_hw):
        return boxes_to_original(np.array(boxes, np.int32), input_hw, np.array(original_hw))

    # 32 x 48 input -> 50 x 70 image (x scale 70/48, y scale 50/32), by hand:
    # the whole input is the whole image; pixel column 1 covers [1.458, 2.917) -> 1..2;
    # row 3 covers [4.69, 6.25) -> 4..6.
    got = convert([[0, 0, 47, 31], [1, 3, 1, 3]], (32, 48), (50, 70)).numpy()
    np.testing.assert_array_equal(got, [[0, 0, 69, 49], [1, 4, 2, 6]])
    # 224 -> 500 (not a float-exact scale): the last pixel is 499, not 497 or 500.
    np.testing.assert_array_equal(
        convert([[0, 0, 223, 223]], (224, 224), (500, 500)), [[0, 0, 499, 499]]
    )
    # Shrinking: a one-pixel box stays one pixel (never empty), columns 16..17 -> 5.
    np.testing.assert_array_equal(convert([[16, 5, 17, 5]], (48, 48), (16, 16)), [[5, 1, 5, 1]])
    rng = np.random.default_rng(0)
    for input_hw, original_hw in (((32, 48), (50, 70)), ((96, 64), (31, 333)), ((7, 9), (7, 9))):
        x = np.sort(rng.integers(0, input_hw[1], (200, 2)), 1)
        y = np.sort(rng.integers(0, input_hw[0], (200, 2)), 1)
        boxes = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], 1)
        got = convert(boxes, input_hw, original_hw).numpy()
        np.testing.assert_array_equal(got, covered_pixels(boxes, input_hw, original_hw))
        if input_hw == original_hw:
            np.testing.assert_array_equal(got, boxes)  # same size: unchanged


def test_deployment_normalization_zeros_nonfinite_maps_like_the_evaluator():
    # Before: a map with an Inf came out NaN (Inf / Inf) from the SavedModel / localize path,
    # while the evaluator's normalize_scoremap gives zeros (no box).
    from wsol_tf.deployment.localize_ops import component_boxes, normalize_maps
    from wsol_tf.evaluation.cam import normalize_scoremap

    rng = np.random.default_rng(3)
    maps = rng.normal(size=(6, 9, 13)).astype(np.float32)  # non-square
    maps[0, 2, 3] = np.inf
    maps[1, 4, 0] = -np.inf
    maps[2, 1, 1] = np.nan
    maps[3] = 7.0  # constant
    got = normalize_maps(maps).numpy()
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got[:4], 0.0)
    np.testing.assert_allclose(got, normalize_scoremap(maps.astype(np.float64)), atol=1e-6)
    np.testing.assert_array_equal(component_boxes(got[:4], 0.2).numpy(), 0)


def test_box_found_is_false_only_where_nothing_is_above_the_threshold():
    from wsol_tf.deployment.localize_ops import box_found, component_boxes

    maps = np.zeros((3, 6, 10), np.float32)  # a flat map, a blob, a map of one hot pixel
    maps[1, 2:4, 5:9] = 1.0
    maps[2, 5, 9] = 1.0
    found = box_found(maps, 0.2).numpy()
    boxes = component_boxes(maps, 0.2).numpy()
    assert found.tolist() == [False, True, True]
    # The flat map's (0, 0, 0, 0) reads like a box at the corner; box_found tells it apart.
    np.testing.assert_array_equal(boxes, [[0, 0, 0, 0], [5, 2, 9, 4], [9, 5, 9, 5]])
