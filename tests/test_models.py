"""Backbone shape, parameter count by hand, ADL placement and inference equivalence."""

import numpy as np
import pytest

from wsol_tf import models
from wsol_tf.layers import ADL


def test_tinyvgg_feature_map_is_one_eighth_of_a_non_square_input():
    model = models.build("tinyvgg", 5, image_size=(64, 96))
    outputs = model(np.zeros((2, 64, 96, 3), np.float32))
    assert outputs["features"].shape == (2, 8, 12, 256)
    assert outputs["logits"].shape == (2, 5)


def test_tinyvgg_parameter_count_by_hand():
    model = models.build("tinyvgg", 200, image_size=(96, 96))
    widths_in = [3, 32, 32, 64, 64, 128, 128, 256]
    widths_out = [32, 32, 64, 64, 128, 128, 256, 256]
    convs = sum(9 * i * o for i, o in zip(widths_in, widths_out, strict=True))  # no bias (BN)
    batch_norm = sum(2 * o for o in widths_out)  # gamma, beta
    features_conv = 9 * 256 * 256 + 256
    classifier = 256 * 200 + 200
    expected = convs + batch_norm + features_conv + classifier
    assert expected == 1_814_696
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == expected


def _parent_name(layer):
    # The layer that feeds `layer` in the functional graph.
    return layer._inbound_nodes[0].parent_nodes[0].operation.name


def test_adl_sits_exactly_at_the_named_positions():
    positions = ("block1_pool", "block3_conv2", "features")
    model = models.build("tinyvgg", 4, method="adl", positions=positions, gamma=0.7, drop_rate=0.5)
    adls = [layer for layer in model.backbone.layers if isinstance(layer, ADL)]
    assert [_parent_name(layer) for layer in adls] == list(positions)
    assert all(layer.gamma == 0.7 and layer.drop_rate == 0.5 for layer in adls)


def test_default_positions_and_gamma():
    model = models.build("tinyvgg", 4, method="adl")
    adls = [layer for layer in model.backbone.layers if isinstance(layer, ADL)]
    assert [_parent_name(layer) for layer in adls] == list(models.spec("tinyvgg").default_positions)
    assert {layer.gamma for layer in adls} == {models.spec("tinyvgg").default_gamma}


def test_cam_model_has_no_adl_and_adl_adds_no_parameters():
    cam = models.build("tinyvgg", 7, method="cam")
    adl = models.build("tinyvgg", 7, method="adl")
    assert not any(isinstance(layer, ADL) for layer in cam.backbone.layers)
    assert cam.count_params() == adl.count_params()


def test_cam_and_adl_models_agree_at_inference_with_the_same_weights():
    cam = models.build("tinyvgg", 3, method="cam", image_size=(40, 56), seed=0)
    adl = models.build("tinyvgg", 3, method="adl", image_size=(40, 56), seed=0)
    adl.set_weights(cam.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (2, 40, 56, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        cam(x, training=False)["logits"].numpy(), adl(x, training=False)["logits"].numpy()
    )
    assert not np.allclose(
        cam(x, training=True)["logits"].numpy(), adl(x, training=True)["logits"].numpy()
    )


def test_unknown_position_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'block9_pool'.*valid positions: block1_conv2"):
        models.build("tinyvgg", 3, method="adl", positions=["block9_pool"])


def test_unknown_model_and_method_refused():
    with pytest.raises(
        ValueError,
        match="--model='vgg99'.*valid backbones: efficientnet_lite0, efficientnet_lite1, "
        "efficientnet_lite2, inceptionv3, mobilenetv1, resnet50, resnet50se, tinyvgg",
    ):
        models.build("vgg99", 3)
    with pytest.raises(ValueError, match="method='no_such_method'"):
        models.build("tinyvgg", 3, method="no_such_method")


@pytest.mark.parametrize(
    "variant,expected",
    [
        ("both", (True, True)),
        ("drop_mask_only", (True, False)),
        ("importance_map_only", (False, True)),
    ],
)
def test_adl_variant_reaches_every_adl_layer(variant, expected):
    model = models.build("tinyvgg", 4, method="adl", adl_variant=variant)
    adls = [layer for layer in model.backbone.layers if isinstance(layer, ADL)]
    assert len(adls) == len(models.spec("tinyvgg").default_positions)
    assert {(layer.use_drop_mask, layer.use_importance_map) for layer in adls} == {expected}


def test_unknown_adl_variant_lists_the_valid_ones():
    with pytest.raises(ValueError, match="adl_variant='drop'.*valid: both, drop_mask_only"):
        models.build("tinyvgg", 3, method="adl", adl_variant="drop")
