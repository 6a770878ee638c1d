"""ACoL: erasing above delta on a hand-made map; the score map against a numpy reference."""

import numpy as np
import pytest
import tensorflow as tf

from wsol_tf import methods
from wsol_tf.layers import ACoLHead
from wsol_tf.layers.acol import erase_above, normalize_maps


def _numpy_normalize(maps):
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.0)


def _linear_head(num_classes, channels, threshold, seed=0):
    """ACoL head without convs (each branch a 1x1 classifier) with random weights."""
    head = ACoLHead(num_classes, threshold=threshold, convs=0)
    head.build((None, None, None, channels))
    rng = np.random.default_rng(seed)
    for dense in (head.classifier, head.classifier_b):
        dense.kernel.assign(rng.normal(size=(channels, num_classes)).astype(np.float32))
        dense.bias.assign(rng.normal(size=(num_classes,)).astype(np.float32))
    return head


def test_erasing_zeroes_every_channel_where_the_normalized_map_reaches_delta():
    # A map 0, 1, ..., 10 normalizes to 0, 0.1, ..., 1: delta 0.7 erases 7/10 and above.
    raw = np.arange(11, dtype=np.float32).reshape(1, 1, 11) * 3.0 + 5.0
    attention = normalize_maps(tf.constant(raw)).numpy()
    np.testing.assert_allclose(attention[0, 0], np.arange(11) / 10, rtol=1e-6)
    features = np.ones((1, 1, 11, 4), np.float32) * np.arange(1, 5, dtype=np.float32)
    erased = erase_above(tf.constant(features), tf.constant(attention), 0.7).numpy()
    np.testing.assert_array_equal(erased[0, 0, :7], features[0, 0, :7])
    np.testing.assert_array_equal(erased[0, 0, 7:], 0.0)
    # A constant map erases nothing.
    flat = normalize_maps(tf.fill((1, 2, 3), 4.0))
    assert np.all(erase_above(tf.ones((1, 2, 3, 2)), flat, 0.7).numpy() == 1.0)


def test_head_b_sees_the_features_erased_by_head_a_for_the_given_label():
    head = _linear_head(1, 1, threshold=0.7)
    head.classifier.kernel.assign([[1.0]])  # A's map of class 0 = the single channel
    head.classifier_b.kernel.assign([[1.0]])
    head.classifier_b.bias.assign([0.0])
    values = np.arange(11, dtype=np.float32)
    out = head(tf.constant(values.reshape(1, 1, 11, 1)), labels=tf.constant([0]))
    # B's logit = mean over positions of the features left after erasing 7..10.
    np.testing.assert_allclose(out["logits_b"].numpy(), [[values[:7].sum() / 11]], rtol=1e-6)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.9])
def test_score_map_is_the_max_of_the_two_normalized_maps_against_numpy(threshold):
    num_classes, channels = 4, 6
    head = _linear_head(num_classes, channels, threshold, seed=int(threshold * 10))
    rng = np.random.default_rng(1)
    features = rng.uniform(0, 2, size=(3, 5, 7, channels)).astype(np.float32)
    classes = np.array([2, 0, 3])
    wa, wb = head.classifier.kernel.numpy(), head.classifier_b.kernel.numpy()
    map_a = _numpy_normalize(np.einsum("bhwk,kb->bhw", features, wa[:, classes]))
    erased = features * (map_a < threshold)[..., None]
    map_b = _numpy_normalize(np.einsum("bhwk,kb->bhw", erased, wb[:, classes]))
    expected = np.maximum(map_a, map_b)
    got = head.class_maps(tf.constant(features), tf.constant(classes)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert (map_a >= threshold).any() and (map_b > map_a).any()  # both maps contribute
    # Without labels the call erases with A's top-1 class.
    out = head(tf.constant(features))
    logits_a = features.mean(axis=(1, 2)) @ wa + head.classifier.bias.numpy()
    predicted = logits_a.argmax(1)
    map_p = _numpy_normalize(np.einsum("bhwk,kb->bhw", features, wa[:, predicted]))
    erased_p = features * (map_p < threshold)[..., None]
    logits_b = erased_p.mean(axis=(1, 2)) @ wb + head.classifier_b.bias.numpy()
    np.testing.assert_allclose(out["logits"].numpy(), logits_a, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["logits_b"].numpy(), logits_b, rtol=1e-5, atol=1e-5)


def test_head_convs_default_to_the_input_width_and_loss_is_the_sum():
    head = ACoLHead(3, convs=2)
    head.build((None, 4, 6, 16))
    assert [c.filters for c in head.branch_convs("a") + head.branch_convs("b")] == [16] * 4
    assert head(tf.ones((2, 4, 6, 16)), labels=tf.constant([0, 1]))["logits_b"].shape == (2, 3)
    assert ACoLHead.from_config(head.get_config()).convs == 2
    method = methods.create("acol")
    logits = tf.constant([[1.0, 0.0, 0.0]])
    loss, logs = method.loss(
        {"logits": logits, "logits_b": logits * 2}, {"label": tf.constant([1])}
    )
    np.testing.assert_allclose(loss.numpy(), (logs["loss_a"] + logs["loss_b"]).numpy())
    with pytest.raises(ValueError, match="--acol_threshold=0.0"):
        methods.create("acol", {"threshold": 0.0})
    with pytest.raises(ValueError, match="--acol_head_convs=-1"):
        methods.create("acol", {"head_convs": -1})


def test_head_lr_factor_enters_the_learning_rate_groups_and_is_validated():
    """The factor multiplies the new-layer group's rate of both heads (convs and
    classifiers), so GroupedAdam's per-variable rates get it too; the backbone keeps its
    group's rate. The default adds no factor: training is unchanged."""
    from wsol_tf import models
    from wsol_tf.training.schedules import lr_multipliers

    assert methods.create("acol").lr_factors() == {}
    model = models.build("tinyvgg", 3, method="acol", image_size=(32, 48), head_lr_factor=0.1)
    rates = lr_multipliers(model, "new_30", layer_factors=model.method.lr_factors())
    by_path = {v.path: r for v, r in zip(model.trainable_variables, rates, strict=True)}
    head_paths = {v.path for v in model.head.trainable_variables}
    assert len(head_paths) == 12  # 2 branches x (2 convs + classifier) x (kernel, bias)
    assert all(by_path[p] == pytest.approx(3.0) for p in head_paths)
    plain = lr_multipliers(model, "new_30")  # the groups alone (tinyvgg's features conv: 30)
    for variable, rate, group_rate in zip(model.trainable_variables, rates, plain, strict=True):
        if variable.path in head_paths:
            assert group_rate == 30.0, variable.path
        else:
            assert rate == group_rate, variable.path
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match=f"--acol_head_lr_factor={bad}"):
            methods.create("acol", {"head_lr_factor": bad})
