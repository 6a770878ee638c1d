"""RFGA (our interpretation): shape and dtype, the forward against numpy, the residual path
(zeroed attention branch = identity), serialization, parameters, learning-rate group."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from wsol_tf import models
from wsol_tf.layers import RFGA
from wsol_tf.training.schedules import NEW_LAYER_PREFIXES, lr_multipliers

SHAPE = (2, 5, 7, 6)  # non-square map


def _inputs(seed=0, dtype="float32"):
    return tf.constant(np.random.RandomState(seed).normal(size=SHAPE), dtype)


def _randomize(layer, seed=1):
    rng = np.random.RandomState(seed)
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.7, size=weight.shape))


def _np_conv_same(x, kernel, axis):
    """Cross-correlation of x along `axis` with a centred kernel, zero padding ('SAME')."""
    k = len(kernel)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (k // 2, k // 2)
    padded = np.pad(x, pad)
    n = x.shape[axis]
    return sum(kernel[i] * np.take(padded, np.arange(i, i + n), axis=axis) for i in range(k))


def _np_rfga(x, layer):
    w = {v.name: np.asarray(v.numpy(), np.float64) for v in layer.weights}
    z_c = x.mean(axis=(1, 2))  # (B, C)
    a_c = _np_conv_same(z_c, w["channel_kernel"][:, 0, 0], axis=1)  # across channels
    z_h = x.mean(axis=2)  # (B, H, C)
    a_h = (
        np.stack(
            [
                _np_conv_same(z_h[..., c], w["height_kernel"][:, 0, c, 0], 1)
                for c in range(x.shape[-1])
            ],
            axis=-1,
        )
        + w["height_bias"]
    )
    z_w = x.mean(axis=1)  # (B, W, C)
    a_w = (
        np.stack(
            [
                _np_conv_same(z_w[..., c], w["width_kernel"][0, :, c, 0], 1)
                for c in range(x.shape[-1])
            ],
            axis=-1,
        )
        + w["width_bias"]
    )
    attention = 1 / (1 + np.exp(-(a_c[:, None, None] + a_h[:, :, None] + a_w[:, None, :])))
    return x + w["scale"] * x * attention, attention


def test_output_shape_dtype_and_forward_against_numpy():
    layer = RFGA(kernel_size=3)
    x = _inputs()
    out = layer(x)
    assert out.shape == SHAPE and out.dtype == tf.float32
    _randomize(layer)
    expected, attention = _np_rfga(x.numpy().astype(np.float64), layer)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.attention(x).numpy(), attention, rtol=1e-5, atol=1e-6)
    # Fine-grained: (nearly) every element has its own attention value.
    assert len(np.unique(np.round(attention, 6))) > 0.9 * attention.size
    half = RFGA(dtype="mixed_float16")
    out16 = half(_inputs(dtype="float16"))
    assert out16.shape == SHAPE and out16.dtype == tf.float16
    assert all(w.dtype == "float32" for w in half.weights)


def test_zeroed_attention_branch_is_the_identity():
    x = _inputs(seed=3)
    layer = RFGA(kernel_size=5)
    np.testing.assert_array_equal(layer(x), x)  # scale starts at 0: identity at init
    _randomize(layer)
    assert not np.allclose(layer(x), x)
    layer.scale.assign(tf.zeros_like(layer.scale))  # the attention branch zeroed
    np.testing.assert_array_equal(layer(x), x)


def test_serialization_round_trip(tmp_path):
    layer = RFGA(kernel_size=5, name="rfga_test")
    x = _inputs(seed=4)
    layer(x)
    _randomize(layer, seed=5)
    clone = RFGA.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), layer(x))
    model = keras.Sequential([keras.Input(SHAPE[1:]), layer])
    path = str(tmp_path / "rfga.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[0], RFGA)
    np.testing.assert_allclose(loaded(x), model(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match="kernel_size=4"):
        RFGA(kernel_size=4)


def test_parameters_positions_and_learning_rate_group():
    cam = models.build("tinyvgg", 3, image_size=(32, 48))
    rfga = models.build("tinyvgg", 3, method="rfga", image_size=(32, 48))
    channels = {"block2_pool": 64, "block3_pool": 128, "block4_conv2": 256}
    assert rfga.method.positions == tuple(channels)
    extra = rfga.count_params() - cam.count_params()
    assert extra == sum(9 * c + 3 for c in channels.values()) == 4041
    for position in channels:
        assert isinstance(rfga.get_layer(f"rfga_{position}"), RFGA)
    # With the Tensorpack rule the backbone trains at 0.1x; RFGA's layers are new (1x).
    prefixes = NEW_LAYER_PREFIXES + rfga.method.new_layer_prefixes
    multipliers = lr_multipliers(rfga, "pretrained_0.1", prefixes)
    by_path = {v.path: m for v, m in zip(rfga.trainable_variables, multipliers, strict=True)}
    assert {m for p, m in by_path.items() if "rfga_" in p} == {1.0}
    assert by_path[rfga.get_layer("block1_conv1_conv").kernel.path] == 0.1
