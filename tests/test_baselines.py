"""The centered-box baseline: golden boxes and IoU hits worked out by hand."""

import cv2
import numpy as np
import pytest

from wsol_tf.data.records import Records
from wsol_tf.reproduction.baselines import (
    centered_box,
    centered_box_accuracy,
    centered_box_baseline,
)


def test_centered_box_golden_values_on_a_non_square_input():
    # h 10, w 20, fraction 0.5: a 10 x 5 box, x from (20 - 10) // 2 = 5, y from (10 - 5) // 2 = 2.
    np.testing.assert_array_equal(centered_box((10, 20), 0.5), [5, 2, 14, 6])
    np.testing.assert_array_equal(centered_box((10, 20), 1.0), [0, 0, 19, 9])
    with pytest.raises(ValueError, match="fraction=0"):
        centered_box((10, 20), 0)


def test_accuracy_counts_iou_of_at_least_one_half():
    gt_exact = np.array([[5, 2, 14, 6]])  # the 0.5 box itself: IoU 1
    # Full-input box (200 px) against the 50 px 0.5 box: IoU 0.25, a miss.
    # A second image: a GT box of 12 x 6 px at x 4..15, y 2..7 holds the 0.5 box (50 px):
    # IoU 50 / 72 = 0.69 (hit); against the full input 72 / 200 = 0.36 (miss).
    gt_larger = np.array([[40, 0, 45, 3], [4, 2, 15, 7]])  # the best of two GT boxes counts
    accuracy = centered_box_accuracy([gt_exact, gt_larger], (10, 20), [0.5, 1.0])
    np.testing.assert_allclose(accuracy, [100.0, 0.0])


def test_baseline_follows_the_evaluation_geometry(tmp_path):
    # One 40 x 80 (h, w) image whose GT box is its central half; evaluated at 20 x 40 after
    # a plain resize, the box becomes x 10..29, y 5..14, exactly the 0.5 centered box there.
    path = str(tmp_path / "one.png")
    cv2.imwrite(path, np.zeros((40, 80, 3), np.uint8))
    records = Records(
        image_paths=[path],
        labels=np.zeros(1, np.int32),
        boxes=np.array([[[20, 10, 60, 30]]], np.float32),
        num_boxes=np.ones(1, np.int32),
        image_ids=[1],
        class_names=["a"],
        image_sizes=np.array([[80, 40]], np.int32),  # width, height
    )
    result = centered_box_baseline(records, (20, 40), None, fractions=[0.25, 0.5, 1.0])
    assert result["best_fraction"] == 0.5 and result["best"] == 100.0
    assert result["full_image"] == 0.0 and result["num_images"] == 1
    np.testing.assert_allclose(result["accuracy"], [0.0, 100.0, 0.0])
