"""EIL: the erasing mask, shared upper network, the loss against numpy, inference = CAM."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from wsol_tf import methods, models
from wsol_tf.evaluation import extractors
from wsol_tf.layers import EILErasing
from wsol_tf.models.taps import Taps
from wsol_tf.models.wsol_model import WSOLModel
from wsol_tf.runs.config import TrainConfig

IMAGE_SIZE = (32, 48)


def _images(batch=4, seed=0):
    return tf.constant(
        np.random.RandomState(seed).uniform(0, 255, (batch, *IMAGE_SIZE, 3)), tf.float32
    )


def _channels_with_means(means):
    """(1, H, W, 2) features whose channel mean is `means` (H, W)."""
    means = np.asarray(means, np.float32)
    return tf.constant(np.stack([means - 1.0, means + 1.0], axis=-1)[None])


def test_erasing_mask_relative_and_absolute_by_hand():
    features = _channels_with_means([[1, 2, 3], [4, 5, 10]])
    relative = EILErasing(0.7)  # level 0.7 * 10 = 7: only the 10 goes
    np.testing.assert_array_equal(
        relative.erasing_mask(features)[0, ..., 0], [[1, 1, 1], [1, 1, 0]]
    )
    absolute = EILErasing(4.0, mode="absolute")  # mean >= 4 erased (the boundary too)
    np.testing.assert_array_equal(
        absolute.erasing_mask(features)[0, ..., 0], [[1, 1, 1], [0, 0, 0]]
    )
    erased = absolute(features).numpy()
    np.testing.assert_array_equal(erased[0, 1], 0.0)
    np.testing.assert_array_equal(erased[0, 0], features.numpy()[0, 0])
    with pytest.raises(ValueError, match="threshold=1.5"):
        EILErasing(1.5)
    with pytest.raises(ValueError, match="mode='max'"):
        EILErasing(0.5, mode="max")


def test_params_are_validated_naming_the_flag_and_default_positions_are_pool4_like():
    with pytest.raises(ValueError, match="--eil_threshold=1.5 is invalid"):
        TrainConfig.from_settings(method="eil", eil_threshold=1.5).validate()
    TrainConfig.from_settings(method="eil", eil_threshold=1.5, eil_threshold_mode="absolute")
    with pytest.raises(ValueError, match="--eil_weight=-1"):
        TrainConfig.from_settings(method="eil", eil_weight=-1.0).validate()
    assert methods.create("eil", backbone=models.spec("tinyvgg")).positions == ("block3_pool",)
    assert methods.create("eil", backbone=models.spec("vgg16gap")).positions == ("block4_pool",)


# --- a tiny model whose forward numpy can repeat: 1x1 convs between positions p1 and p2 ---

W1 = np.array([[1.0, -0.5, 0.25], [0.5, 1.0, -1.0]])  # 2 -> 3 channels, before p1
W2 = np.array([[0.5, -1.0, 0.25], [1.0, 0.5, -0.5], [-0.25, 0.75, 1.0]])  # p1 -> p2
W3 = np.array([[1.0, -0.5], [0.25, 1.0], [-0.75, 0.5]])  # p2 -> features (ReLU)
DENSE = np.array([[0.8, -0.3, 0.1], [-0.4, 0.6, 0.2]])
BIAS = np.array([0.05, -0.1, 0.02])


def _tiny_model(positions, **params):
    method = methods.create("eil", params, positions=positions)
    taps = Taps(method, method.positions, ("p1", "p2"), "tiny")
    inputs = keras.Input((3, 4, 2))
    x = keras.layers.Conv2D(3, 1, use_bias=False, name="c1")(inputs)
    x = taps.after("p1", x)
    x = keras.layers.Conv2D(3, 1, use_bias=False, name="c2")(x)
    x = taps.after("p2", x)
    x = keras.layers.Conv2D(2, 1, use_bias=False, activation="relu", name="c3")(x)
    model = WSOLModel(keras.Model(inputs, x), method.build_head(3), method, 3)
    for name, kernel in (("c1", W1), ("c2", W2), ("c3", W3)):
        model.get_layer(name).kernel.assign(kernel[None, None])
    model.get_layer("classifier").kernel.assign(DENSE)
    model.get_layer("classifier").bias.assign(BIAS)
    return model


def _np_erase(features, threshold, mode):
    attention = features.mean(-1, keepdims=True)
    level = (
        threshold * attention.max(axis=(1, 2), keepdims=True) if mode == "relative" else threshold
    )
    return features * (attention < level)


def _np_ce(features, labels):
    logits = features.mean(axis=(1, 2)) @ DENSE + BIAS
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


@pytest.mark.parametrize(
    "positions, params",
    [
        (("p1",), {"threshold": 0.6, "weight": 0.5}),
        (("p2",), {"threshold": 0.1, "threshold_mode": "absolute", "weight": 2.0}),
        (("p2", "p1"), {"threshold": 0.8, "weight": 1.0}),  # MEIL, given out of order
    ],
)
def test_loss_equals_a_numpy_computation_on_a_tiny_model(positions, params):
    model = _tiny_model(positions, **params)
    images = np.random.RandomState(1).normal(size=(5, 3, 4, 2))
    labels = np.array([0, 1, 2, 1, 0])
    batch = {"image": tf.constant(images, tf.float32), "label": tf.constant(labels)}
    outputs = model.method.forward(model, batch, training=True)
    loss, logs = model.method.loss(outputs, batch)

    erase = lambda f: _np_erase(f, params["threshold"], params.get("threshold_mode", "relative"))  # noqa: E731
    relu = lambda f: np.maximum(f, 0.0)  # noqa: E731
    f1 = images @ W1
    unerased = relu(f1 @ W2 @ W3)
    branches = {}
    if "p1" in positions:
        branches["p1"] = relu(erase(f1) @ W2 @ W3)
    if "p2" in positions:
        branches["p2"] = relu(erase(f1 @ W2) @ W3)
    ce_u = _np_ce(unerased, labels)
    ce_e = sum(_np_ce(f, labels) for f in branches.values())
    assert set(outputs["logits_erased"]) == set(positions)
    np.testing.assert_allclose(logs["loss_unerased"], ce_u, rtol=1e-5)
    np.testing.assert_allclose(logs["loss_erased"], ce_e, rtol=1e-5)
    np.testing.assert_allclose(loss, ce_u + params["weight"] * ce_e, rtol=1e-5)
    assert not np.allclose(ce_e, len(positions) * ce_u)  # the erasing changed something


@pytest.fixture(scope="module")
def cam_and_eil():
    cam = models.build("tinyvgg", 3, method="cam", image_size=IMAGE_SIZE)
    # threshold 1.0: only each sample's arg-max is erased, so both branches carry signal.
    eil = models.build("tinyvgg", 3, method="eil", image_size=IMAGE_SIZE, eil_threshold=1.0)
    assert [w.path for w in eil.weights] == [w.path for w in cam.weights]
    eil.set_weights(cam.get_weights())
    return cam, eil


def test_branches_share_every_upper_variable_and_the_model_adds_none(cam_and_eil):
    cam, eil = cam_and_eil
    assert len(eil.weights) == len(cam.weights)
    assert [tuple(w.shape) for w in eil.weights] == [tuple(w.shape) for w in cam.weights]
    segments, positions = eil.method.segments(eil)
    assert positions == ("block3_pool",) and len(segments) == 2
    model_ids = {id(v) for v in eil.weights}
    upper = segments[1]
    assert upper.trainable_variables and {id(v) for v in upper.weights} <= model_ids
    assert len({id(v) for v in segments[0].weights} | {id(v) for v in upper.weights}) == len(
        eil.backbone.weights
    )
    batch = {"image": _images(), "label": tf.constant([0, 1, 2, 0])}
    with tf.GradientTape() as tape:
        outputs = eil.method.forward(eil, batch, training=True)
        erased_only = tf.reduce_mean(
            methods.cross_entropy(batch["label"], outputs["logits_erased"]["block3_pool"])
        )
    assert len(eil.weights) == len(cam.weights)  # the two-branch pass created nothing
    gradients = tape.gradient(erased_only, upper.trainable_variables)
    # The erased branch alone reaches every upper-network variable: the same variables.
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in gradients)


def test_inference_equals_the_single_branch_model(cam_and_eil):
    cam, eil = cam_and_eil
    eil.set_weights(cam.get_weights())  # BatchNorm statistics too (other tests train)
    images = _images(seed=2)
    batch = {"image": images, "label": tf.constant([0, 1, 2, 1])}
    eval_outputs = eil.method.forward(eil, batch, training=False)
    np.testing.assert_array_equal(eval_outputs["logits"], cam(images)["logits"])
    assert "logits_erased" not in eval_outputs
    classes = tf.constant([2, 0, 1, 1])
    for name in ("classic", "gradcam"):
        extractor = extractors.get(name)
        logits, maps = eil.method.score_maps(eil, images, classes, extractor)
        cam_logits, cam_maps = cam.method.score_maps(cam, images, classes, extractor)
        np.testing.assert_array_equal(logits, cam_logits)
        np.testing.assert_array_equal(maps, cam_maps)
    # Training: the unerased branch is the single-branch model's training forward (last:
    # it moves the BatchNorm statistics).
    train_outputs = eil.method.forward(eil, batch, training=True)
    np.testing.assert_allclose(
        train_outputs["logits"], cam(images, training=True)["logits"], rtol=1e-5, atol=1e-6
    )
