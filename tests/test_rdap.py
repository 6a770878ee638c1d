"""RDAP: a fixed-size square around the attention's arg-max, clipped at borders; identity at
inference."""

import numpy as np
import pytest
import tensorflow as tf

from wsol_tf import models
from wsol_tf.layers import RDAP
from wsol_tf.layers.rdap import square_side
from wsol_tf.runs.config import TrainConfig


def _features_peaking_at(height, width, peaks, seed=0):
    """(B, H, W, 4) features whose channel mean peaks at peaks[b]; channel 0 alone peaks
    elsewhere (so a per-channel maximum would pick the wrong cell)."""
    rng = np.random.RandomState(seed)
    features = rng.uniform(0.0, 0.5, (len(peaks), height, width, 4)).astype(np.float32)
    for b, (r, c) in enumerate(peaks):
        decoy = ((r + height // 2) % height, (c + width // 2) % width)
        features[b, decoy[0], decoy[1], 0] = 8.0  # channel mean there: < 2.5
        features[b, r, c, 1:] = 4.0  # channel mean here: >= 3
    return tf.constant(features)


def _expected_mask(height, width, peak, side):
    """1 kept, 0 dropped: rows r - side//2 ... + side - 1, clipped (numpy, by hand)."""
    mask = np.ones((height, width), np.float32)
    top, left = peak[0] - side // 2, peak[1] - side // 2
    mask[max(top, 0) : max(top + side, 0), max(left, 0) : max(left + side, 0)] = 0.0
    return mask


@pytest.mark.parametrize(
    "height, width, size, side",
    [
        (7, 11, 3 / 7, 3),  # odd side: exactly centred
        (7, 11, 0.5, 4),  # 3.5 rounds half up to 4: even side
        (10, 6, 0.34, 2),  # taller than wide: the side follows the shorter (width) side
        (5, 9, 0.01, 1),  # at least one cell
        (5, 9, 1.0, 5),
    ],
)
def test_square_is_centred_on_the_argmax_has_the_size_and_is_clipped(height, width, size, side):
    assert square_side(height, width, size) == side
    peaks = [(height // 2, width // 2), (0, 0), (height - 1, width - 1), (1, width - 2)]
    features = _features_peaking_at(height, width, peaks)
    layer = RDAP(size=size, probability=1.0, seed=0)
    mask = layer.drop_mask(features).numpy()[..., 0]
    for b, peak in enumerate(peaks):
        expected = _expected_mask(height, width, peak, side)
        np.testing.assert_array_equal(mask[b], expected, err_msg=f"peak {peak}")
        assert mask[b][peak] == 0.0  # the arg-max itself is always dropped
    # An interior peak loses exactly side x side cells; a corner only the clipped part.
    assert (mask[0] == 0).sum() == side * side
    assert (mask[1] == 0).sum() == (side - side // 2) ** 2
    dropped = layer(features, training=True).numpy()
    np.testing.assert_array_equal(dropped, features.numpy() * mask[..., None])


def test_identity_at_inference_and_one_draw_per_call():
    features = _features_peaking_at(6, 10, [(2, 3), (5, 9)])
    layer = RDAP(size=0.5, probability=0.5, seed=3)
    for training in (None, False):
        np.testing.assert_array_equal(layer(features, training=training), features)
    np.testing.assert_array_equal(RDAP(probability=0.0)(features, training=True), features)
    dropped = features.numpy() * layer.drop_mask(features).numpy()
    outcomes = []
    for _ in range(200):
        out = layer(features, training=True).numpy()
        is_identity = np.array_equal(out, features.numpy())
        assert is_identity or np.array_equal(out, dropped)  # the whole batch, one draw
        outcomes.append(not is_identity)
    assert 0.4 < np.mean(outcomes) < 0.6  # probability 0.5 over 200 seeded draws


def test_flags_are_validated_and_layers_sit_at_the_positions():
    with pytest.raises(ValueError, match="--rdap_size=0 is invalid"):
        TrainConfig.from_settings(method="rdap", rdap_size=0).validate()
    with pytest.raises(ValueError, match="--rdap_probability=1.5 is invalid"):
        TrainConfig.from_settings(method="rdap", rdap_probability=1.5).validate()
    with pytest.raises(ValueError, match="size=1.5"):
        RDAP(size=1.5)
    model = models.build(
        "tinyvgg", 3, method="rdap", image_size=(32, 48), positions=["block3_pool"], rdap_size=0.25
    )
    layer = model.get_layer("rdap_block3_pool")
    assert (
        isinstance(layer, RDAP)
        and layer.size == 0.25
        and not model.get_layer("rdap_block3_pool").weights
    )
    restored = RDAP.from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()
    assert len(model.weights) == len(models.build("tinyvgg", 3, image_size=(32, 48)).weights)
