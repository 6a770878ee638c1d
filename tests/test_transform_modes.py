"""random_resized_crop and eval "resize": box math against hand-computed values, non-square."""

import numpy as np
import pytest
import tensorflow as tf

from wsol_tf.data import transforms
from wsol_tf.data.pipeline import make_dataset
from wsol_tf.data.records import Records, pad_boxes


def test_crop_resize_hand_values():
    # 100 x 200 (h x w); crop 50 x 80 at (y, x) = (10, 40); resize to 25 x 40 (factor 1/2).
    # Box [60, 20, 100, 50] -> shift [20, 10, 60, 40] -> scale [10, 5, 30, 20].
    # Box [0, 0, 50, 100] -> shift [-40, -10, 10, 90] -> clip [0, 0, 10, 50] -> [0, 0, 5, 25].
    image = tf.zeros((100, 200, 3))
    out, boxes = transforms.crop_resize_with_boxes(
        image, tf.constant([[60.0, 20, 100, 50], [0, 0, 50, 100]]), (10, 40), (50, 80), (25, 40)
    )
    assert out.shape == (25, 40, 3)
    np.testing.assert_allclose(boxes.numpy(), [[10, 5, 30, 20], [0, 0, 5, 25]])


def test_sample_resized_crop_falls_back_to_clamped_center_crop():
    # 10 x 400: any window of >= 8 % area with aspect in [3/4, 4/3] is > 10 high, so none
    # fits; fallback: ratio 40 > 4/3 -> h = 10, w = round(10 * 4/3) = 13, x = (400-13)//2.
    y, x, h, w = transforms.sample_resized_crop(10, 400, tf.constant([1, 2], tf.int64))
    assert (int(y), int(x), int(h), int(w)) == (0, 193, 10, 13)
    # 400 x 10 (tall): w = 10, h = round(10 / (3/4)) = 13, y = (400 - 13) // 2 = 193.
    y, x, h, w = transforms.sample_resized_crop(400, 10, tf.constant([1, 2], tf.int64))
    assert (int(y), int(x), int(h), int(w)) == (193, 0, 13, 10)


def test_sample_resized_crop_statistics():
    # 300 x 500: most draws fit on the first attempt; every window lies inside the image,
    # its area fraction is in [0.08, 1] and its aspect ratio in [3/4, 4/3] (up to rounding).
    windows = np.array(
        [
            [int(v) for v in transforms.sample_resized_crop(300, 500, tf.constant([7, s]))]
            for s in range(300)
        ]
    )
    y, x, h, w = windows.T
    assert (y >= 0).all() and (x >= 0).all() and (y + h <= 300).all() and (x + w <= 500).all()
    area = h * w / (300 * 500)
    assert area.min() >= 0.08 - 0.01 and area.max() <= 1.0
    ratio = w / h
    assert ratio.min() >= 0.75 - 0.02 and ratio.max() <= 4 / 3 + 0.02
    # Area fraction ~ U(0.08, 1) when the draw fits (large areas fail more often): mean
    # near 0.54 minus the rejected tail; 300 draws, generous tolerance.
    assert 0.35 < area.mean() < 0.6
    # Offsets are spread, not always centered.
    assert len(set(x.tolist())) > 100


def _bright_rectangle_records(tmp_path):
    import cv2

    paths, box_lists = [], []
    for i, (h, w) in enumerate([(90, 150), (160, 100), (120, 120)]):
        img = np.zeros((h, w, 3), np.uint8)
        x0, y0, x1, y1 = w // 5, h // 4, w // 5 + w // 2, h // 4 + h // 2
        img[y0:y1, x0:x1] = 255
        path = tmp_path / f"r{i}.png"
        cv2.imwrite(str(path), img)
        paths.append(str(path))
        box_lists.append([[x0, y0, x1, y1]])
    boxes, num_boxes = pad_boxes(box_lists)
    return Records(paths, np.zeros(3, np.int32), boxes, num_boxes, [1, 2, 3], ["a"])


def test_random_resized_crop_boxes_follow_the_object(tmp_path):
    records = _bright_rectangle_records(tmp_path)
    checked = 0
    for epoch in range(6):
        ds = make_dataset(records, training=True, image_size=(40, 56), batch_size=3, seed=5,
                          epoch=epoch, train_augment="random_resized_crop")  # fmt: skip
        batch = next(iter(ds))
        assert batch["image"].shape == (3, 40, 56, 3)
        for b in range(3):
            x0, y0, x1, y1 = batch["boxes"].numpy()[b, 0]
            img = batch["image"].numpy()[b, :, :, 0]
            if x1 - x0 > 4 and y1 - y0 > 4:  # object visible in the crop
                assert img[int((y0 + y1) / 2), int((x0 + x1) / 2)] > 200
                inside = img[int(y0) + 1 : int(y1) - 1, int(x0) + 1 : int(x1) - 1]
                assert inside.mean() > 200
                checked += 1
    assert checked >= 8


def test_eval_resize_mode_hand_values(tmp_path):
    import cv2

    # 120 x 90 image -> resize to (56, 40): x * 40/90, y * 56/120.
    # [9, 30, 45, 90] -> [4, 14, 20, 42].
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.zeros((120, 90, 3), np.uint8))
    boxes, num_boxes = pad_boxes([[[9, 30, 45, 90]]])
    records = Records([str(path)], np.zeros(1, np.int32), boxes, num_boxes, [1], ["a"])
    batch = next(iter(make_dataset(records, training=False, image_size=(56, 40), batch_size=1,
                                   eval_resize="resize")))  # fmt: skip
    assert batch["image"].shape == (1, 56, 40, 3)
    np.testing.assert_allclose(batch["boxes"].numpy()[0], [[4, 14, 20, 42]], rtol=1e-5)
    # "crop" (default): resize (64, 48) then center crop (56, 40) at offset (4, 4).
    # [9, 30, 45, 90] * (48/90, 64/120) = [4.8, 16, 24, 48] - 4 = [0.8, 12, 20, 44].
    batch = next(iter(make_dataset(records, training=False, image_size=(56, 40), batch_size=1,
                                   resize_size=(64, 48))))  # fmt: skip
    np.testing.assert_allclose(batch["boxes"].numpy()[0], [[0.8, 12, 20, 44]], rtol=1e-5)


def test_unknown_modes_refused(tmp_path):
    records = _bright_rectangle_records(tmp_path)
    with pytest.raises(ValueError, match="train_augment='flip'"):
        make_dataset(records, training=True, image_size=32, batch_size=1, train_augment="flip")
    with pytest.raises(ValueError, match="eval_resize='pad'"):
        make_dataset(records, training=False, image_size=32, batch_size=1, eval_resize="pad")


def test_deterministic_false_gives_same_contents(tmp_path):
    records = _bright_rectangle_records(tmp_path)

    def by_index(deterministic):
        ds = make_dataset(records, training=True, image_size=32, batch_size=1, seed=2,
                          deterministic=deterministic)  # fmt: skip
        return {int(b["index"][0]): b["image"].numpy() for b in ds}

    a, b = by_index(True), by_index(False)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
