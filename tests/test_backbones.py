"""Backbones: one harness over the registry checks every backbone's spec against the model it
builds (positions, ADL defaults, map size, preprocessing, new layers, weight namings, minimum
size, SPG's taps, last strides); the paper's backbones' parameter counts by hand."""

import dataclasses

import keras
import numpy as np
import pytest

from wsol_tf import methods, models
from wsol_tf.layers import ADL
from wsol_tf.runs.config import TrainConfig

PAPER_BACKBONES = ("vgg16gap", "resnet50se", "resnet50", "mobilenetv1", "inceptionv3")
CLASSES = 200


def _conv(k, cin, cout, bias):
    return k * cin * cout + (cout if bias else 0)


def vgg16gap_count():
    widths = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256)]
    widths += [(256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
    convs = sum(_conv(9, i, o, True) for i, o in widths)
    assert convs == 14_714_688  # VGG16 without top
    return convs + _conv(9, 512, 1024, True) + _conv(1, 1024, CLASSES, True)


def resnet50se_count():
    bn = 4  # gamma, beta, moving mean, moving variance per channel
    total = _conv(49, 3, 64, False) + bn * 64
    c_in = 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        out = 4 * width
        for b in range(blocks):
            total += _conv(1, c_in, width, False) + bn * width
            total += _conv(9, width, width, False) + bn * width
            total += _conv(1, width, out, False) + bn * out
            if b == 0:
                total += _conv(1, c_in, out, False) + bn * out
            total += _conv(1, out, out // 16, True) + _conv(1, out // 16, out, True)  # SE
            c_in = out
    return total + _conv(1, 2048, CLASSES, True)


def mobilenetv1_count():
    bn = 4
    total = _conv(9, 3, 32, False) + bn * 32
    c_in = 32
    for c_out in (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024):
        total += 9 * c_in + bn * c_in  # depthwise
        total += _conv(1, c_in, c_out, False) + bn * c_out  # pointwise
        c_in = c_out
    return total + _conv(1, 1024, CLASSES, True)


def inceptionv3_count():
    def unit(k, cin, cout):  # conv without bias + BN without gamma (beta, mean, variance)
        return k * cin * cout + 3 * cout

    total = unit(9, 3, 32) + unit(9, 32, 32) + unit(9, 32, 64) + unit(1, 64, 80)
    total += unit(9, 80, 192)
    for cin, pool in ((192, 32), (256, 64), (288, 64)):  # mixed0-2
        total += unit(1, cin, 64) + unit(1, cin, 48) + unit(25, 48, 64)
        total += unit(1, cin, 64) + unit(9, 64, 96) + unit(9, 96, 96) + unit(1, cin, pool)
    total += unit(9, 288, 384) + unit(1, 288, 64) + unit(9, 64, 96) + unit(9, 96, 96)  # mixed3
    for c7 in (128, 160, 160, 192):  # mixed4-7
        total += unit(1, 768, 192) + unit(1, 768, c7) + unit(7, c7, c7) + unit(7, c7, 192)
        total += unit(1, 768, c7) + 3 * unit(7, c7, c7) + unit(7, c7, 192) + unit(1, 768, 192)
    total += _conv(9, 768, 1024, True) + _conv(9, 1024, 1024, True)  # SPG head
    return total + _conv(1, 1024, CLASSES, True)


def resnet50_count():
    # keras.applications' own no-top ResNet50 is the reference for the unchanged graph.
    backbone = keras.applications.ResNet50(weights=None, include_top=False).count_params()
    return backbone + _conv(1, 2048, CLASSES, True)


BY_HAND = {
    "vgg16gap": vgg16gap_count,
    "resnet50se": resnet50se_count,
    "resnet50": resnet50_count,
    "mobilenetv1": mobilenetv1_count,
    "inceptionv3": inceptionv3_count,
}
# Feature map of a 224 x 320 input (non-square): 1/16 for all but InceptionV3 (keras stem).
MAP_224_320 = {
    "vgg16gap": (14, 20, 1024),
    "resnet50se": (14, 20, 2048),
    "resnet50": (14, 20, 2048),
    "mobilenetv1": (14, 20, 1024),
    "inceptionv3": (25, 37, 1024),
}


@pytest.mark.parametrize("name", PAPER_BACKBONES)
def test_parameter_count_by_hand_and_feature_map_at_224(name):
    model = models.build(name, CLASSES, method="adl", image_size=(224, 320))
    assert model.count_params() == BY_HAND[name]()
    assert tuple(model.get_layer("features").output.shape[1:]) == MAP_224_320[name]
    assert model.get_layer("classifier").units == CLASSES


def test_paper_parameter_sizes():
    # Paper Table 3 (float32 MB) and the parameter counts, within 2%.
    for count, params, megabytes in (
        (vgg16gap_count(), 19.6e6, 78),
        (resnet50se_count(), 26.5e6, 107),
    ):
        assert abs(count / params - 1) < 0.02
        assert abs(4 * count / 1e6 / megabytes - 1) < 0.02
    assert vgg16gap_count() == 19_639_304
    assert resnet50se_count() == 26_501_944
    # MobileNetV1: 13.7 MB with 200 classes; the paper's 16 MB is the 1000-class net in MiB.
    assert mobilenetv1_count() == 3_433_864
    with_imagenet_head = (
        mobilenetv1_count() - _conv(1, 1024, 200, True) + _conv(1, 1024, 1000, True)
    )
    assert round(4 * with_imagenet_head / 2**20, 1) == 16.2
    # InceptionV3 (SPG variant): 102.8 MB against the paper's 101 MB.
    assert inceptionv3_count() == 25_697_384
    assert round(4 * inceptionv3_count() / 1e6, 1) == 102.8


def test_inception_map_size_formula():
    from wsol_tf.models import inceptionv3

    assert inceptionv3.feature_map_size(224) == 25
    assert inceptionv3.feature_map_size(299) == 35
    assert inceptionv3.feature_map_size(64) == 5
    assert inceptionv3.feature_map_size(320) == 37


def _parent_name(layer):
    return layer._inbound_nodes[0].parent_nodes[0].operation.name


def test_paper_gammas_and_positions():
    gammas = {n: models.spec(n).default_gamma for n in PAPER_BACKBONES}
    assert gammas == {
        "vgg16gap": 0.8,
        "resnet50se": 0.9,
        "resnet50": 0.9,
        "mobilenetv1": 0.95,
        "inceptionv3": 0.8,
    }
    vgg, inception = models.spec("vgg16gap"), models.spec("inceptionv3")
    assert vgg.default_positions == ("block3_pool", "block4_pool", "block5_conv3")
    assert inception.default_positions == ("mixed2", "mixed7", "features")
    assert inception.side_taps == ("mixed2", "mixed6")  # wsolevaluation's SPG


def test_a_spec_refuses_positions_it_does_not_offer():
    tinyvgg = models.spec("tinyvgg")
    with pytest.raises(ValueError, match=r"side_taps \['pool9'\] are not among its positions"):
        dataclasses.replace(tinyvgg, side_taps=("block3_pool", "pool9"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        tinyvgg.default_gamma = 0.5


# --- One harness over the registry: every backbone's spec against the model it builds. ------

HARNESS_SIZE = (64, 96)  # non-square, a multiple of 32 (every feature stride), small


@pytest.fixture(scope="module")
def built():
    """`get(name)` -> (spec, ADL model at HARNESS_SIZE), each built once for the harness."""
    cache = {}

    def get(name):
        if name not in cache:
            spec = models.spec(name)
            size = tuple(max(s, spec.min_image_size) for s in HARNESS_SIZE)
            cache[name] = spec, models.build(name, 3, method="adl", image_size=size, seed=0)
        return cache[name]

    return get


@pytest.mark.parametrize("name", models.BACKBONES.names())
def test_spec_positions_exist_and_adl_sits_at_the_defaults(name, built):
    spec, model = built(name)
    assert spec.name == name == model.name
    layers = set(model.layer_names())
    assert len(set(spec.positions)) == len(spec.positions)
    assert set(spec.positions) <= layers, set(spec.positions) - layers
    adls = [layer for layer in model.backbone.layers if isinstance(layer, ADL)]
    assert [_parent_name(layer) for layer in adls] == list(spec.default_positions)
    assert {layer.gamma for layer in adls} == {spec.default_gamma}
    x = np.random.default_rng(0).uniform(0, 4, (1, 5, 7, 8)).astype(np.float32)
    for layer in adls:  # no weights, the identity at inference: the model is CAM's
        assert not layer.weights
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)


@pytest.mark.parametrize("name", models.BACKBONES.names())
def test_spec_map_size_preprocessing_and_new_layers(name, built):
    spec, model = built(name)
    h, w = model.image_size
    features = tuple(model.get_layer("features").output.shape[1:3])
    if spec.feature_stride is not None:
        assert features == (h // spec.feature_stride, w // spec.feature_stride)
    if spec.preprocessing == "mean_std":
        assert isinstance(model.backbone.get_layer("normalize"), keras.layers.Normalization)
    else:
        assert model.backbone.get_layer("preprocess").mode == spec.preprocessing
    names = [*model.layer_names(), "classifier"]
    for prefix in spec.new_layer_prefixes:  # a typo would train pretrained layers as new
        assert any(n.startswith(prefix) for n in names), (prefix, names)


@pytest.mark.parametrize("name", models.BACKBONES.names())
def test_spec_weight_namings_name_layers_of_the_model(name, built):
    spec, model = built(name)
    weights = spec.weights
    if weights.keras is not None:
        assert hasattr(keras.applications, weights.keras.application)
    assert weights.tensorpack is None or weights.tensorpack_names is not None
    assert weights.torch is None or weights.torch_names is not None
    for namer in (weights.tensorpack_names, weights.torch_names):
        if namer is None:
            continue
        for layer_name, variables in namer(model.backbone).items():
            layer = model.backbone.get_layer(layer_name)
            assert len(layer.weights) == len(variables), layer_name


@pytest.mark.parametrize("name", models.BACKBONES.names())
def test_spec_min_size_side_taps_and_last_strides(name, built):
    spec, model = built(name)
    below = spec.min_image_size - 1
    with pytest.raises(ValueError, match=f"--image_size=.*>= {spec.min_image_size}"):
        TrainConfig.from_settings(model=name, image_size=below).validate()
    if spec.min_image_size > 16:  # the builder refuses it too, before building anything
        with pytest.raises(ValueError, match=f"at least {spec.min_image_size}"):
            models.build(name, 3, image_size=(below, 2 * below))
    if spec.side_taps:
        assert len(spec.side_taps) == 2  # SPG's B1, B2
        method = TrainConfig.from_settings(model=name, method="spg").validate().make_method()
        assert method.positions == spec.side_taps
    else:
        with pytest.raises(
            ValueError, match=f"no default side-branch positions for --model={name}"
        ):
            TrainConfig.from_settings(model=name, method="spg").validate()
    if not spec.last_strides:
        with pytest.raises(ValueError, match=f"--last_stride=1: valid: none for --model={name}"):
            models.build(name, 3, image_size=model.image_size, last_stride=1)
        return
    default = tuple(model.get_layer("features").output.shape[1:3])
    for stride in sorted(spec.last_strides)[:-1]:  # a smaller last stride: a larger map
        cam = methods.create("cam", backbone=spec)
        backbone = models.build_backbone(name, cam, model.image_size, last_stride=stride)
        scale = max(spec.last_strides) // stride
        assert tuple(backbone.output.shape[1:3]) == tuple(scale * s for s in default), stride


def test_adl_at_chosen_positions():
    positions = ("conv2_block3_out", "conv5_block2_out")
    model = models.build("resnet50", 3, method="adl", positions=positions, image_size=(64, 96))
    adls = [layer for layer in model.backbone.layers if isinstance(layer, ADL)]
    assert [_parent_name(layer) for layer in adls] == list(positions)


def test_unknown_position_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'pool5'.*valid positions: block1_conv1, block1_conv2"):
        models.build("vgg16gap", 3, method="adl", positions=["pool5"], image_size=(64, 96))


def test_preprocessing_modes_by_hand():
    from wsol_tf.models.preprocessing import ImageNetPreprocessing

    rgb = np.array([[[[10.0, 100.0, 200.0]]]], np.float32)
    caffe = ImageNetPreprocessing("caffe")(rgb).numpy().ravel()
    np.testing.assert_allclose(caffe, [200 - 103.939, 100 - 116.779, 10 - 123.68], rtol=1e-6)
    tf_mode = ImageNetPreprocessing("tf")(rgb).numpy().ravel()
    np.testing.assert_allclose(tf_mode, [10 / 127.5 - 1, 100 / 127.5 - 1, 200 / 127.5 - 1])
    tp = ImageNetPreprocessing("tensorpack")(rgb).numpy().ravel()
    expected = [
        (200 / 255 - 0.406) / 0.225,
        (100 / 255 - 0.456) / 0.224,
        (10 / 255 - 0.485) / 0.229,
    ]
    np.testing.assert_allclose(tp, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="mode='bgr'"):
        ImageNetPreprocessing("bgr")
