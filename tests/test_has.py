"""HaS: patches hidden with probability 0.5 on the right grid, filled with the fill value."""

import numpy as np
import pytest
import tensorflow as tf

from wsol_tf import methods
from wsol_tf.methods.has import PAPER_PATCH_SIZES, hide_masks

H, W = 32, 48  # non-square on purpose


def _seeds(n, base=7):
    return tf.stack([tf.fill([n], tf.constant(base, tf.int64)), tf.range(n, dtype=tf.int64)], 1)


def _cells(mask, size):
    """(cell values, True if every cell of the size x size grid is constant) of one mask."""
    rows, cols = -(-mask.shape[0] // size), -(-mask.shape[1] // size)
    values, constant = np.zeros((rows, cols), bool), True
    for r in range(rows):
        for c in range(cols):
            block = mask[r * size : (r + 1) * size, c * size : (c + 1) * size]
            constant &= bool(block.min() == block.max())
            values[r, c] = block[0, 0]
    return values, constant


@pytest.mark.parametrize("size", [10, 16])
def test_the_grid_starts_top_left_and_is_cut_by_the_border_on_non_square_inputs(size):
    masks, sizes = hide_masks(_seeds(40), H, W, (size,), 0.5)
    masks = masks.numpy()
    assert masks.shape == (40, H, W) and set(sizes.numpy()) == {size}
    for mask in masks:
        _, constant = _cells(mask, size)
        assert constant  # one value per size x size patch, the last ones cut by the border
    # The patches are independent: with 40 images some neighbours differ along each axis, so
    # a transposed or shifted grid would break the constancy above.
    assert (masks[:, :, size - 1] != masks[:, :, size]).any()
    assert (masks[:, size - 1, :] != masks[:, size, :]).any()


def test_hidden_patches_are_within_3_sigma_of_half():
    size, images = 8, 300
    masks, _ = hide_masks(_seeds(images), H, W, (size,), 0.5)
    cells = np.stack([_cells(m, size)[0] for m in masks.numpy()])  # (300, 4, 6)
    n, hidden = cells.size, int(cells.sum())
    assert n == images * (H // size) * (W // size)
    assert abs(hidden - n / 2) <= 3 * np.sqrt(n * 0.25), (hidden, n)
    # ... and each image draws its own: not all images are alike.
    assert len({c.tobytes() for c in cells}) > images // 2


def test_patch_size_is_drawn_per_image_from_the_set_and_zero_hides_nothing():
    images = 250
    masks, sizes = hide_masks(_seeds(images, base=11), H, W, PAPER_PATCH_SIZES, 0.5)
    masks, sizes = masks.numpy(), sizes.numpy()
    counts = np.array([(sizes == s).sum() for s in PAPER_PATCH_SIZES])
    sigma = np.sqrt(images * 0.2 * 0.8)
    assert np.all(np.abs(counts - images / 5) <= 3 * sigma), counts
    assert not masks[sizes == 0].any()
    for mask, size in zip(masks[sizes > 0], sizes[sizes > 0], strict=True):
        assert _cells(mask, size)[1]


def test_probability_extremes_and_statelessness():
    seeds = _seeds(6)
    assert hide_masks(seeds, H, W, (16,), 1.0)[0].numpy().all()
    assert not hide_masks(seeds, H, W, (16,), 0.0)[0].numpy().any()
    a, _ = hide_masks(seeds, H, W, (8,), 0.5)
    b, _ = hide_masks(seeds[3:], H, W, (8,), 0.5)  # one image's draw needs only its seed
    np.testing.assert_array_equal(a.numpy()[3:], b.numpy())


def test_augment_fills_hidden_pixels_with_the_fill_and_keeps_the_others():
    method = methods.create("has", {"patch_sizes": (8,), "fill": (10.0, 20.0, 30.0)})
    images = tf.random.stateless_uniform((5, H, W, 3), (1, 2), 0.0, 255.0)
    seeds = _seeds(5)
    out = method.augment({"image": images, "label": tf.zeros(5, tf.int32)}, seeds)
    masks = hide_masks(seeds, H, W, (8,), 0.5)[0].numpy()
    got, original = out["image"].numpy(), images.numpy()
    np.testing.assert_array_equal(got[masks], np.broadcast_to([10.0, 20.0, 30.0], got[masks].shape))
    np.testing.assert_array_equal(got[~masks], original[~masks])
    np.testing.assert_allclose(out["hidden_fraction"].numpy(), masks.mean(axis=(1, 2)))
    assert 0 < masks.mean() < 1


def test_default_fill_is_the_imagenet_mean_and_flags_are_checked():
    assert methods.create("has").params.fill == (123.675, 116.28, 103.53)
    params = methods.create("has", {"patch_sizes": "32", "fill": "1,2,3"}).params
    assert params.patch_sizes == (32,) and params.fill == (1.0, 2.0, 3.0)
    for values, flag in (
        ({"hide_prob": 1.5}, "--has_hide_prob=1.5"),
        ({"patch_sizes": (16, -1)}, "--has_patch_sizes="),
        ({"patch_sizes": "a"}, "--has_patch_sizes=a"),
        ({"fill": (1.0, 2.0)}, "--has_fill="),
        ({"fill": (0.0, 0.0, 300.0)}, "--has_fill="),
    ):
        with pytest.raises(ValueError, match=flag):
            methods.create("has", values)
