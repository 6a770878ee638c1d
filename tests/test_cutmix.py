"""CutMix: the label weight is the pasted area after clipping; the box follows rand_bbox."""

import numpy as np
import pytest
import tensorflow as tf

from wsol_tf import methods
from wsol_tf.methods.cutmix import cut_boxes, partners

H, W = 32, 48


def _seeds(n, base=5):
    return tf.stack([tf.fill([n], tf.constant(base, tf.int64)), tf.range(n, dtype=tf.int64)], 1)


@pytest.mark.parametrize("partner", ["permutation", "pair"])
def test_label_weight_equals_the_pasted_area_after_clipping(partner):
    n = 64
    method = methods.create("cutmix", {"prob": 0.7, "partner": partner})
    # Noise images: every pixel differs between any two images, so the pasted region is
    # exactly where an image changed.
    images = tf.random.stateless_uniform((n, H, W, 3), (3, 4), 0.0, 255.0)
    labels = tf.range(n, dtype=tf.int32)  # label i <-> image i
    out = method.augment({"image": images, "label": labels}, _seeds(n))
    original, mixed = images.numpy(), out["image"].numpy()
    weight, label_b = out["label_weight"].numpy(), out["label_b"].numpy()
    clipped = pasted = 0
    for i in range(n):
        changed = np.any(mixed[i] != original[i], axis=-1)
        area = int(changed.sum())
        if label_b[i] == i:  # paired with itself: nothing visible changes, weight irrelevant
            assert area == 0
            continue
        assert weight[i] == pytest.approx(1.0 - area / (H * W), abs=1e-7), i
        if area:
            pasted += 1
            rows, cols = np.nonzero(changed)
            y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            assert area == (y1 - y0) * (x1 - x0)  # one rectangle
            # ... cut from the partner named by label_b, at the same place.
            j = label_b[i]
            np.testing.assert_array_equal(mixed[i, y0:y1, x0:x1], original[j, y0:y1, x0:x1])
            clipped += y0 == 0 or x0 == 0 or y1 == H or x1 == W
    assert pasted > n // 3 and clipped > 0  # the draws exercised pasting and clipping
    # No coin flip for about 30% of the images: own label only.
    assert 0 < np.sum(weight == 1.0) < n // 2


def test_box_follows_rand_bbox_against_numpy():
    # lambda ~ Beta(1e6, 1e6) is 0.5 +- 0.0004 (std): sides floor(40 * 0.7071) = 28 and
    # floor(56 * 0.7071) = 39, i.e. half sides 14 and 19 around a uniform center, clipped.
    height, width, n = 40, 56, 400
    boxes = cut_boxes(_seeds(n, base=9), height, width, 1.0, 1e6).numpy()
    y0, x0, y1, x1 = boxes.T
    inside_y = (y0 > 0) & (y1 < height)
    inside_x = (x0 > 0) & (x1 < width)
    assert np.all(y1[inside_y] - y0[inside_y] == 28) and np.all(x1[inside_x] - x0[inside_x] == 38)
    # Clipped sides: the center is the unclipped corner -/+ the half side, within the image.
    cy = np.where(y0 > 0, y0 + 14, y1 - 14)
    cx = np.where(x0 > 0, x0 + 19, x1 - 19)
    np.testing.assert_array_equal(y0, np.clip(cy - 14, 0, height))
    np.testing.assert_array_equal(y1, np.clip(cy + 14, 0, height))
    np.testing.assert_array_equal(x0, np.clip(cx - 19, 0, width))
    np.testing.assert_array_equal(x1, np.clip(cx + 19, 0, width))
    assert cy.min() >= 0 and cy.max() < height and cx.min() >= 0 and cx.max() < width
    # Centers are uniform: both halves of each axis are hit (and clipping happens).
    assert (~inside_y).any() and (~inside_x).any() and inside_y.any() and inside_x.any()


def test_each_images_box_needs_only_its_own_seed_and_prob_zero_pastes_nothing():
    seeds = _seeds(8)
    np.testing.assert_array_equal(
        cut_boxes(seeds, H, W, 1.0, 1.0).numpy()[4:], cut_boxes(seeds[4:], H, W, 1.0, 1.0).numpy()
    )
    assert not cut_boxes(seeds, H, W, 0.0, 1.0).numpy().any()
    pairs = partners(seeds, "pair").numpy()
    np.testing.assert_array_equal(pairs, [1, 0, 3, 2, 5, 4, 7, 6])
    assert sorted(partners(seeds, "permutation").numpy()) == list(range(8))


def test_loss_mixes_the_two_cross_entropies_by_the_weight():
    method = methods.create("cutmix")
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]], np.float32)
    batch = {
        "label": tf.constant([0, 2]),
        "label_b": tf.constant([1, 2]),
        "label_weight": tf.constant([0.25, 0.6]),
    }
    loss, logs = method.loss({"logits": tf.constant(logits)}, batch)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = [0.25 * -log_p[0, 0] + 0.75 * -log_p[0, 1], -log_p[1, 2]]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(logs["pasted_fraction"].numpy(), [0.75, 0.4], rtol=1e-6)


def test_flags_are_checked():
    for values, flag in (
        ({"prob": -0.1}, "--cutmix_prob=-0.1"),
        ({"beta": 0.0}, "--cutmix_beta=0.0"),
        ({"partner": "random"}, "--cutmix_partner='random'"),
    ):
        with pytest.raises(ValueError, match=flag):
            methods.create("cutmix", values)
