"""check_batch / check_mask_batch on their own: what LocalizationEvaluator refuses, and why."""

import numpy as np
import pytest

from wsol_tf.evaluation.batch_check import check_batch, check_mask_batch

H, W = 6, 10  # non-square on purpose


def _good():
    """Two images of (6, 10) maps, up to two GT boxes each (the second image uses one)."""
    maps = np.linspace(0, 1, 2 * H * W).reshape(2, H, W)
    boxes = np.array([[[0, 0, 9, 5], [2, 1, 4, 3]], [[1, 1, 8, 4], [0, 0, 0, 0]]])
    return [maps, maps[::-1].copy(), np.array([0, 1]), np.array([0, 2]), boxes, np.array([2, 1])]


def test_a_good_non_square_batch_comes_back_as_arrays():
    args = _good()
    args[2], args[3] = [0, 1], [[0], [2]]  # lists and (B, 1) are taken as (B,)
    batch = check_batch(*args)
    assert batch.maps_gt.shape == (2, H, W)
    assert batch.labels.tolist() == [0, 2] and batch.predictions.shape == (2,)
    np.testing.assert_array_equal(batch.gt(1), [[1, 1, 8, 4]])  # only the valid box
    assert check_batch(*_good()[:1], None, *_good()[2:]).maps_pred is None


@pytest.mark.parametrize(
    "position, bad, message",
    [
        (0, np.zeros((H, W)), r"scoremaps_gt must be \(B, H, W\)"),
        (1, np.zeros((2, W, H)), "scoremaps_pred must have the shape"),
        (2, np.array([0, 1, 2]), "predictions must have B=2 entries"),
        (3, np.array([0.0, 2.0]), "labels must be integers"),
        (4, np.zeros((2, 2, 5), np.int64), r"gt_boxes must be \(B=2, M, 4\)"),
        (5, np.array([1.0, 1.0]), "num_boxes must be 2 integers"),
        (5, np.array([3, 1]), r"num_boxes must lie in \[1, M=2\]"),
        (0, np.zeros((2, H, W), np.uint8), "scoremaps_gt must be float"),
        (0, np.full((2, H, W), 1.5), r"normalised to \[0, 1\]"),
        (4, np.array([[[5, 0, 2, 5], [0] * 4], [[1, 1, 8, 4], [0] * 4]]), r"gt_boxes\[0\]"),
    ],
)
def test_each_bad_argument_is_named(position, bad, message):
    args = _good()
    args[position] = bad
    with pytest.raises(ValueError, match=message):
        check_batch(*args)


def test_nan_names_the_image_and_the_checks_come_in_a_fixed_order():
    args = _good()
    args[1] = args[1].copy()
    args[1][1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"scoremaps_pred contains NaN/Inf in image\(s\) \[1\]"):
        check_batch(*args)
    args[2] = np.array([0.5, 1.0])  # a class error is reported before the maps' values
    with pytest.raises(ValueError, match="predictions must be integers"):
        check_batch(*args)


def test_check_mask_batch():
    maps = np.zeros((2, H, W))
    masks = [np.zeros((H, W), np.uint8)] * 2
    got, predictions, labels = check_mask_batch(maps, masks, [1, 0], np.array([[1], [1]]))
    assert got.shape == (2, H, W) and labels.tolist() == [1, 1]
    with pytest.raises(ValueError, match="needs a mask for every image"):
        check_mask_batch(maps, [masks[0], None], [1, 0], [1, 1])
    with pytest.raises(ValueError, match="labels must be B=2 integers"):
        check_mask_batch(maps, masks, [1, 0], [1.0, 1.0])
