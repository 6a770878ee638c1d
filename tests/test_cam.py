"""Tests for wsol_tf.evaluation.cam: CAM, Grad-CAM, normalisation, upsampling."""

import numpy as np
import pytest

from wsol_tf.evaluation.cam import (
    class_activation_maps,
    grad_cam_maps,
    normalize_scoremap,
    scoremaps_for_input,
    upsample_scoremaps,
)


@pytest.fixture
def feats_kernel():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)  # (B, h, w, K), h != w
    kernel = rng.normal(size=(4, 6)).astype(np.float32)  # (K, C)
    return features, kernel


def test_cam_equals_explicit_loop(feats_kernel):
    features, kernel = feats_kernel
    classes = np.array([1, 4])
    cams = class_activation_maps(features, kernel, classes)
    assert cams.shape == (2, 3, 5) and cams.dtype == np.float32
    for b in range(2):
        for i in range(3):
            for j in range(5):
                expected = sum(kernel[k, classes[b]] * features[b, i, j, k] for k in range(4))
                assert cams[b, i, j] == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_cam_has_no_bias(feats_kernel):
    # GAP commutes with the weighted sum: mean(CAM_c) = logit_c - bias_c, not logit_c.
    features, kernel = feats_kernel
    bias = np.array([0.5, -2.0, 3.0, 1.0, 7.0, -1.0], dtype=np.float32)
    logits = features.mean(axis=(1, 2)) @ kernel + bias  # (B, C)
    classes = np.array([2, 4])
    cams = class_activation_maps(features, kernel, classes)
    for b, c in enumerate(classes):
        assert cams[b].mean() == pytest.approx(logits[b, c] - bias[c], rel=1e-5)
        assert abs(cams[b].mean() - logits[b, c]) > 1.0


def test_cam_gt_and_other_class_differ(feats_kernel):
    features, kernel = feats_kernel
    gt = class_activation_maps(features, kernel, [0, 0])
    other = class_activation_maps(features, kernel, [3, 3])
    assert not np.allclose(gt, other)


def test_cam_rejects_bad_inputs(feats_kernel):
    features, kernel = feats_kernel
    with pytest.raises(ValueError, match="class_indices"):
        class_activation_maps(features, kernel, [0, 6])
    with pytest.raises(ValueError, match="class_indices"):
        class_activation_maps(features, kernel, [0])
    with pytest.raises(ValueError, match="classifier_kernel"):
        class_activation_maps(features, kernel[:3], [0, 1])


def test_grad_cam_equals_loop(feats_kernel):
    features, _ = feats_kernel
    grads = np.random.default_rng(1).normal(size=features.shape).astype(np.float32)
    maps = grad_cam_maps(features, grads)
    weights = grads.mean(axis=(1, 2))  # (B, K)
    expected = np.stack(
        [sum(weights[b, k] * features[b, ..., k] for k in range(4)) for b in range(2)]
    )
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-6)
    assert (maps < 0).any()  # no ReLU, as in Tensorpack


def test_normalize_golden_values():
    cam = np.array([[1.0, 2.0, 3.0], [5.0, 1.0, 4.0]])
    expected = np.array([[0.0, 0.25, 0.5], [1.0, 0.0, 0.75]])
    np.testing.assert_array_equal(normalize_scoremap(cam), expected)
    assert normalize_scoremap(cam).dtype == np.float64
    assert normalize_scoremap(cam.astype(np.float32)).dtype == np.float32


def test_normalize_constant_nan_inf_give_zeros():
    assert not normalize_scoremap(np.full((3, 5), 7.0)).any()
    nan_map = np.arange(15.0).reshape(3, 5)
    nan_map[1, 2] = np.nan
    out = normalize_scoremap(nan_map)
    assert np.isfinite(out).all() and not out.any()
    inf_map = np.arange(15.0).reshape(3, 5)
    inf_map[0, 0] = np.inf
    assert not normalize_scoremap(inf_map).any()


def test_normalize_is_per_map_in_a_batch():
    batch = np.stack([np.full((3, 5), 2.0), np.arange(15.0).reshape(3, 5) * 3 - 4])
    out = normalize_scoremap(batch)
    assert out.shape == (2, 3, 5)
    assert not out[0].any()
    assert out[1].min() == 0.0 and out[1].max() == 1.0
    np.testing.assert_allclose(out[1], np.arange(15.0).reshape(3, 5) / 14)


def test_upsample_size_is_height_width_and_nearest_golden():
    cams = np.array([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]])  # (1, 2, 3)
    out = upsample_scoremaps(cams, (4, 6), interpolation="nearest")
    assert out.shape == (1, 4, 6) and out.dtype == np.float64
    np.testing.assert_array_equal(out[0], np.kron(cams[0], np.ones((2, 2))))
    # 2D input stays 2D; non-square target in the other orientation.
    assert upsample_scoremaps(cams[0], (7, 3)).shape == (7, 3)


def test_upsample_rejects_unknown_interpolation():
    with pytest.raises(ValueError, match="interpolation"):
        upsample_scoremaps(np.zeros((2, 3)), (4, 6), interpolation="lanczos9")


def test_scoremaps_for_input_resizes_then_normalizes(feats_kernel):
    features, kernel = feats_kernel
    maps = scoremaps_for_input(features, kernel, [1, 2], (24, 40))
    assert maps.shape == (2, 24, 40)
    cams = class_activation_maps(features, kernel, [1, 2])
    expected = normalize_scoremap(upsample_scoremaps(cams, (24, 40), "bicubic"))
    np.testing.assert_array_equal(maps, expected)
    # Normalising after the bicubic resize keeps exactly [0, 1] despite overshoot.
    for m in maps:
        assert m.min() == 0.0 and m.max() == 1.0


def _per_map_loop(cam):
    """The evaluator's min-max rule as it was written before the merge (one map at a time)."""
    maps = np.asarray(cam, np.float64).reshape((-1,) + np.shape(cam)[-2:])
    out = np.zeros_like(maps)
    for i, m in enumerate(maps):
        if np.isfinite(m).all() and m.min() != m.max():
            out[i] = (m - m.min()) / (m.max() - m.min())
    return out.reshape(np.shape(cam))


def _dead_and_live_maps():
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(6, 7, 9)) * 10.0 ** rng.integers(-30, 30, size=(6, 1, 1))
    maps[1] = 2.5  # constant
    maps[2, 3, 4] = np.nan
    maps[3, 0, 0] = np.inf
    maps[4, 6, 8] = -np.inf
    return maps


def test_the_one_min_max_rule_is_the_per_map_loop_bit_for_bit():
    maps = _dead_and_live_maps()
    for dtype in (np.float64, np.float32):
        got = normalize_scoremap(maps.astype(dtype))
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, _per_map_loop(maps.astype(dtype)).astype(dtype))
    assert not normalize_scoremap(maps)[1:5].any() and normalize_scoremap(maps)[5].max() == 1.0


def test_tensorflow_and_numpy_front_ends_share_the_rule():
    import tensorflow as tf

    from wsol_tf.layers.acol import normalize_maps as acol_normalize
    from wsol_tf.normalization import minmax, normalize_maps

    maps = _dead_and_live_maps().astype(np.float32)
    expected = normalize_scoremap(maps)  # float32 out, computed in float64
    got = minmax(tf.constant(maps)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert not got[1:5].any()  # ACoL's erasing uses the same guard: an Inf map is zeros
    np.testing.assert_array_equal(normalize_maps(tf.constant(maps)).numpy(), got)
    np.testing.assert_array_equal(acol_normalize(tf.constant(maps)).numpy(), got)
    # Finite maps: exactly the formula ACoL used before the guard (no number moves).
    live = tf.constant(maps[5:])
    low = tf.reduce_min(live, axis=[1, 2], keepdims=True)
    span = tf.reduce_max(live, axis=[1, 2], keepdims=True) - low
    before = tf.where(span > 0, (live - low) / tf.where(span > 0, span, 1.0), 0.0)
    np.testing.assert_array_equal(acol_normalize(live).numpy(), before.numpy())
