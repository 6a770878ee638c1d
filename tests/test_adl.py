"""ADL against a plain numpy reference, its branch statistics, dtypes and serialization."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from wsol_tf.layers import ADL


def adl_reference(x, gamma, use_drop_mask):
    """The paper's ADL in float64 numpy. x: (B, H, W, C)."""
    x = np.asarray(x, np.float64)
    attention = x.mean(axis=-1, keepdims=True)  # (B, H, W, 1)
    max_attention = attention.max(axis=(1, 2), keepdims=True)  # (B, 1, 1, 1)
    if use_drop_mask:
        selected = (attention < gamma * max_attention).astype(np.float64)
    else:
        selected = 1.0 / (1.0 + np.exp(-attention))
    return x * selected


def features(shape=(3, 5, 9, 4), seed=0):
    # Non-square maps (5x9) so a transposed H/W would not go unnoticed.
    return np.random.default_rng(seed).uniform(-1.0, 2.0, size=shape).astype(np.float32)


@pytest.mark.parametrize("gamma", [0.5, 0.9, 1.0])
def test_drop_branch_matches_numpy(gamma):
    x = features()
    out = ADL(drop_rate=1.0, gamma=gamma, seed=3)(x, training=True)
    np.testing.assert_allclose(out.numpy(), adl_reference(x, gamma, True), rtol=1e-6, atol=1e-6)


def test_importance_branch_matches_numpy():
    x = features(seed=1)
    out = ADL(drop_rate=0.0, gamma=0.8, seed=3)(x, training=True)
    np.testing.assert_allclose(out.numpy(), adl_reference(x, 0.8, False), rtol=1e-6, atol=1e-6)


def test_drop_mask_golden_values():
    # One sample, 2x3 map, 2 channels; channel means are worked out by hand.
    x = np.array(
        [[[[1, 3], [0, 0], [4, 4]], [[10, 0], [2, 2], [1, 1]]]], np.float32
    )  # means: [[2, 0, 4], [5, 2, 1]], max 5, threshold 0.8 * 5 = 4
    out = ADL(drop_rate=1.0, gamma=0.8)(x, training=True).numpy()
    kept = np.array([[1, 1, 0], [0, 1, 1]], np.float32)[None, :, :, None]  # 4 and 5 are >= 4
    np.testing.assert_array_equal(out, x * kept)


def test_per_sample_maximum():
    # Two samples at very different scales: each keeps its own non-peak region.
    x = features(shape=(2, 4, 6, 3), seed=2) + 2.0
    x[1] *= 100.0
    out = ADL(drop_rate=1.0, gamma=0.9)(x, training=True).numpy()
    np.testing.assert_allclose(out, adl_reference(x, 0.9, True), rtol=1e-6)
    for b in range(2):
        assert 0 < np.count_nonzero(out[b].sum(-1) == 0) < 24


@pytest.mark.parametrize("training", [False, None])
def test_identity_at_inference(training):
    x = features()
    layer = ADL(drop_rate=1.0, gamma=0.5)
    np.testing.assert_array_equal(layer(x, training=training).numpy(), x)


def test_no_weights_and_no_parameters():
    inputs = keras.Input((8, 6, 5))
    model = keras.Model(inputs, ADL()(inputs))
    assert model.count_params() == 0
    assert model.layers[-1].weights == []


def _branch_is_drop(out, x):
    # With positive features, the drop branch zeroes the per-sample peak while the
    # importance branch keeps it at sigmoid(mean) > 0.5.
    peak = np.unravel_index(np.argmax(x[0].mean(-1)), x.shape[1:3])
    return out[0, peak[0], peak[1], 0] == 0.0


@pytest.mark.parametrize("drop_rate", [0.25, 0.75])
def test_drop_frequency_within_three_sigma(drop_rate):
    x = tf.constant(np.abs(features(shape=(1, 5, 7, 2), seed=4)) + 0.1)
    layer = ADL(drop_rate=drop_rate, gamma=0.9, seed=1234)

    @tf.function
    def step(inputs):
        return layer(inputs, training=True)

    calls = 2000
    drops = sum(_branch_is_drop(step(x).numpy(), x.numpy()) for _ in range(calls))
    assert step.experimental_get_tracing_count() == 1
    sigma = math.sqrt(drop_rate * (1 - drop_rate) / calls)
    assert abs(drops / calls - drop_rate) <= 3 * sigma, (drops / calls, drop_rate, sigma)


@pytest.mark.parametrize("drop_rate,expect_drop", [(0.0, False), (1.0, True)])
def test_extreme_drop_rates_always_pick_one_branch(drop_rate, expect_drop):
    x = tf.constant(np.abs(features(shape=(1, 5, 7, 2), seed=5)) + 0.1)
    layer = ADL(drop_rate=drop_rate, gamma=0.9, seed=7)
    step = tf.function(lambda inputs: layer(inputs, training=True))
    branches = {bool(_branch_is_drop(step(x).numpy(), x.numpy())) for _ in range(200)}
    assert branches == {expect_drop}


def test_same_seed_same_draws_different_seed_differs():
    x = tf.constant(np.abs(features(shape=(1, 5, 7, 2), seed=6)) + 0.1)

    def sequence(seed):
        layer = ADL(drop_rate=0.5, seed=seed)
        return [
            bool(_branch_is_drop(layer(x, training=True).numpy(), x.numpy())) for _ in range(64)
        ]

    assert sequence(11) == sequence(11)
    assert sequence(11) != sequence(12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_inputs(dtype):
    x = features(seed=8)
    x_low = tf.cast(x, dtype)
    x_rounded = tf.cast(x_low, tf.float32).numpy()
    for drop_rate, use_drop in [(1.0, True), (0.0, False)]:
        out = ADL(drop_rate=drop_rate, gamma=0.8, seed=0)(x_low, training=True)
        assert out.dtype == tf.as_dtype(dtype)
        expected = adl_reference(x_rounded, 0.8, use_drop)
        tol = 1e-2 if dtype == "bfloat16" else 2e-3
        np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), expected, rtol=tol, atol=tol)


def test_config_round_trip():
    layer = ADL(drop_rate=0.6, gamma=0.85, seed=5, name="adl_x")
    config = layer.get_config()
    assert config["drop_rate"] == 0.6 and config["gamma"] == 0.85 and config["seed"] == 5
    clone = ADL.from_config(config)
    assert clone.get_config() == config
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(restored, ADL) and restored.get_config() == config


def test_keras_file_save_and_load(tmp_path):
    inputs = keras.Input((6, 10, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = ADL(drop_rate=0.75, gamma=0.8, seed=1, name="adl_1")(x)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "adl_model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.get_layer("adl_1")
    assert isinstance(layer, ADL) and (layer.drop_rate, layer.gamma) == (0.75, 0.8)
    x = features(shape=(2, 6, 10, 3), seed=9)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs,bad",
    [
        ({"drop_rate": -0.1}, "-0.1"),
        ({"drop_rate": 1.5}, "1.5"),
        ({"gamma": 0.0}, "0.0"),
        ({"gamma": 1.2}, "1.2"),
        ({"gamma": -0.5}, "-0.5"),
    ],
)
def test_invalid_hyperparameters_name_the_value(kwargs, bad):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"{name}={bad}"):
        ADL(**kwargs)


@pytest.mark.parametrize(
    "use_drop_mask,use_importance_map", [(True, False), (False, True)], ids=["drop", "importance"]
)
def test_ablation_variant_runs_one_component_else_passes_through(use_drop_mask, use_importance_map):
    # The paper's Table 1 "N/A": a deactivated component's branch outputs the raw features.
    x = np.abs(features(shape=(2, 5, 7, 3), seed=10)) + 0.1
    layer = ADL(
        drop_rate=0.5,
        gamma=0.8,
        seed=21,
        use_drop_mask=use_drop_mask,
        use_importance_map=use_importance_map,
    )
    step = tf.function(lambda inputs: layer(inputs, training=True))
    active = adl_reference(x, 0.8, use_drop_mask)  # the one component that still runs
    calls, active_calls = 400, 0
    for _ in range(calls):
        out = step(tf.constant(x)).numpy()
        if np.array_equal(out, x):
            continue
        np.testing.assert_allclose(out, active, rtol=1e-6, atol=1e-6)
        active_calls += 1
    # The active branch is drawn with probability 0.5 either way; 3 sigma of 400 draws.
    sigma = math.sqrt(0.25 / calls)
    assert abs(active_calls / calls - 0.5) <= 3 * sigma, active_calls


def test_ablation_variant_rejects_no_component_and_round_trips():
    with pytest.raises(ValueError, match="use_drop_mask=False, use_importance_map=False"):
        ADL(use_drop_mask=False, use_importance_map=False)
    with pytest.raises(ValueError, match="use_drop_mask=1"):
        ADL(use_drop_mask=1)
    layer = ADL(drop_rate=0.75, use_importance_map=False, name="adl_drop_only")
    config = layer.get_config()
    assert (config["use_drop_mask"], config["use_importance_map"]) == (True, False)
    assert ADL.from_config(config).get_config() == config
