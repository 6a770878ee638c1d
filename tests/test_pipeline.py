"""Box math of resize / crop / flip on non-square images, and the tf.data pipeline."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from wsol_tf.data import transforms
from wsol_tf.data.pipeline import default_resize_size, make_dataset
from wsol_tf.data.records import Records, pad_boxes


def image(h, w):
    return tf.zeros((h, w, 3), tf.float32)


def test_resize_scales_x_by_width_and_y_by_height():
    # 100 x 200 (h x w) -> 50 x 50: x scales by 1/4, y by 1/2.
    out, boxes = transforms.resize_with_boxes(
        image(100, 200), tf.constant([[40.0, 10, 120, 90]]), (50, 50)
    )
    assert out.shape == (50, 50, 3)
    np.testing.assert_allclose(boxes.numpy(), [[10, 5, 30, 45]])


def test_crop_shifts_and_clips():
    # Crop 30 x 40 (h x w) at (y, x) = (5, 20) from 60 x 80.
    out, boxes = transforms.crop_with_boxes(
        image(60, 80), tf.constant([[10.0, 0, 50, 20], [30.0, 10, 75, 50]]), (5, 20), (30, 40)
    )
    assert out.shape == (30, 40, 3)
    np.testing.assert_allclose(boxes.numpy(), [[0, 0, 30, 15], [10, 5, 40, 30]])


def test_flip_mirrors_x_edges():
    img = np.zeros((6, 10, 3), np.float32)
    img[:, 2:5] = 1.0  # columns 2..4, i.e. edges x in [2, 5]
    out, boxes = transforms.flip_with_boxes(tf.constant(img), tf.constant([[2.0, 1, 5, 4]]))
    np.testing.assert_allclose(boxes.numpy(), [[5, 1, 8, 4]])  # 10 - 5, 10 - 2
    assert out.numpy()[0, 5:8, 0].tolist() == [1, 1, 1] and out.numpy()[0, 4, 0] == 0


def test_eval_transform_center_crop():
    # 120 x 90 -> resize (64, 48) -> center crop (56, 40): offset (4, 4).
    out, boxes = transforms.eval_transform(
        image(120, 90), tf.constant([[9.0, 30, 45, 90]]), (56, 40), (64, 48)
    )
    assert out.shape == (56, 40, 3)
    # scale x 48/90, y 64/120: [4.8, 16, 24, 48] then minus 4: [0.8, 12, 20, 44].
    np.testing.assert_allclose(boxes.numpy(), [[0.8, 12, 20, 44]], rtol=1e-5)


def test_default_resize_ratio_is_tensorpacks():
    assert default_resize_size(224) == (256, 256)
    assert default_resize_size((112, 168)) == (128, 192)


@pytest.fixture
def records(tmp_path):
    """Four non-square images with a bright rectangle exactly at their box."""
    paths, box_lists = [], []
    for i, (h, w) in enumerate([(60, 90), (80, 50), (70, 70), (64, 100)]):
        img = np.zeros((h, w, 3), np.uint8)
        x0, y0, x1, y1 = w // 4, h // 3, w // 2 + i, 2 * h // 3
        img[y0:y1, x0:x1] = 255
        path = tmp_path / f"img{i}.png"
        cv2.imwrite(str(path), img)
        paths.append(str(path))
        box_lists.append([[x0, y0, x1, y1]] + ([[0, 0, 5, 5]] if i == 1 else []))
    boxes, num_boxes = pad_boxes(box_lists)
    return Records(
        paths, np.array([0, 1, 0, 1], np.int32), boxes, num_boxes, [1, 2, 3, 4], ["a", "b"]
    )


def test_eval_pipeline_boxes_frame_the_object(records):
    batch = next(
        iter(
            make_dataset(
                records, training=False, image_size=(40, 56), resize_size=(40, 56), batch_size=4
            )
        )
    )
    assert batch["image"].shape == (4, 40, 56, 3)
    np.testing.assert_array_equal(batch["num_boxes"].numpy(), [1, 2, 1, 1])
    assert batch["boxes"].shape == (4, 2, 4)
    assert np.all(batch["boxes"].numpy()[[0, 2, 3], 1] == 0)  # padding stays zero
    for b in range(4):
        x0, y0, x1, y1 = batch["boxes"].numpy()[b, 0]
        img = batch["image"].numpy()[b, :, :, 0]
        inside = img[int(y0) + 1 : int(y1) - 1, int(x0) + 1 : int(x1) - 1]
        assert inside.min() > 200  # the bright rectangle is inside the transformed box
        assert img[:, : max(int(x0) - 1, 0)].max() < 60  # and nothing bright left of it


def test_training_pipeline_is_deterministic_per_seed_and_epoch(records):
    def first_batch(seed, epoch):
        ds = make_dataset(
            records, training=True, image_size=(32, 48), batch_size=4, seed=seed, epoch=epoch
        )
        return next(iter(ds))

    a, b = first_batch(1, 0), first_batch(1, 0)
    np.testing.assert_array_equal(a["image"].numpy(), b["image"].numpy())
    np.testing.assert_array_equal(a["index"].numpy(), b["index"].numpy())
    c = first_batch(1, 1)
    assert not np.array_equal(a["image"].numpy(), c["image"].numpy())


def test_training_boxes_follow_the_object_through_crop_and_flip(records):
    ds = make_dataset(records, training=True, image_size=(48, 64), batch_size=4, seed=3)
    for epoch_batch in ds.take(1):
        for b in range(4):
            x0, y0, x1, y1 = epoch_batch["boxes"].numpy()[b, 0]
            img = epoch_batch["image"].numpy()[b, :, :, 0]
            cx, cy = int((x0 + x1) / 2), int((y0 + y1) / 2)
            assert img[cy, cx] > 200  # box centre is on the bright rectangle


def test_resize_smaller_than_crop_refused(records):
    with pytest.raises(ValueError, match="resize_size"):
        make_dataset(
            records, training=False, image_size=(64, 64), resize_size=(32, 64), batch_size=2
        )
