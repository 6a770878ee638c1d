"""Parity with tf-keras-vis 0.8.7 (the project's issue 29): on the same network, inputs and
classes, our Grad-CAM, Grad-CAM++, Layer-CAM and Score-CAM maps against tf-keras-vis's, and
Eigen-CAM (which tf-keras-vis lacks) against a numpy SVD of the same features.

Two networks: TinyVGG-GAP with random weights at 48 x 64 (non-square) on noise images, and
EfficientNet-Lite0 with its ImageNet weights and 1000-way head at 224 on two ILSVRC val
images (skipped without ../shared/data/ILSVRC2012_val_mini). tf-keras-vis gets a plain
functional `keras.Model`, images -> logits, made of the same layer objects (the backbone's
graph plus our head), and `penultimate_layer` names the layer, with
`seek_penultimate_conv_layer=False` so it takes that layer and not a convolution before it.

How the maps are compared: at the layer's resolution (tf-keras-vis with `expand_cam=False`;
its expansion is scipy's corner-aligned bilinear zoom, ours at evaluation is cv2's bicubic,
a difference of resampling rather than of the maps), each map min-max normalized exactly
(`normalization.minmax_numpy`, the evaluator's rule) on both sides. tf-keras-vis's own
`normalize` adds 1e-7 to the span, which would bias a map whose span is small (ours is not
scaled by exp(logit)), so it is not used.

Definitions, read from both sources:

    Layer-CAM   the same: ReLU(sum_k ReLU(g_k) A_k).
    Grad-CAM    the same up to a ReLU: tf-keras-vis ReLUs the map, ours (Tensorpack's ADL
                code) does not; with `activation_modifier=None` they are equal.
    Grad-CAM++  both use the exponentiated logit S = exp(y_c) and the closed-form alpha
                g^2 / (2 g^2 + sum_hw(A) g^3), where S cancels. tf-keras-vis then divides
                alpha by its spatial sum per channel (an extra step, which pytorch-grad-cam
                and ours do not take) and keeps the factor S on its map. Checked: its raw
                map is exp(y_c) x the formula with that step, ours is the formula without
                it, and the two maps differ.
    Score-CAM   the same weights (softmax probability of class c on the image masked by
                each min-max normalized, upsampled channel; map ReLU(sum_k w_k A_k)), but
                (a) tf-keras-vis upsamples the channels with scipy's zoom (order 1: bilinear
                with aligned corners), ours with half-pixel centers; with an aligned-corner
                resize patched into ours the maps are equal; (b) channel caps: ours keeps
                the top `scorecam_max_channels` channels by spatial variance of each image,
                tf-keras-vis (`max_N`) takes the union of every image's top channels and
                scores that union for the whole batch; ours equals tf-keras-vis run on each
                image alone; (c) its mask normalization adds 1e-7 to the span (below the
                tolerance).
    Eigen-CAM   no tf-keras-vis counterpart: numpy's SVD of the activations as h*w samples of
                K channels, centered over positions; the first right singular vector,
                oriented so its channel weights sum to >= 0 (an SVD's sign is arbitrary:
                pytorch-grad-cam, which does not fix it, gets sign-flipped maps, its issue
                #315); map = ReLU(centered @ v).

Tolerance: TOL = 1e-5 on maps normalized to [0, 1] where the definitions agree. Both sides
compute in float32 from the same weights; they differ in summation order (our einsum against
tf-keras-vis's numpy sums over up to 1280 channels, scipy's zoom against tf.image.resize for
Score-CAM's masks, float64 numpy against float32 TensorFlow for the references). The largest
difference measured over these cases was 9.1e-7 (CPU, TensorFlow 2.21), so TOL leaves 10x
headroom. One exception, TKV_GRADCAMPP_TOL = 5e-5: tf-keras-vis's Grad-CAM++ against its own
formula in float64. Its per-channel alpha sums include the positions where g < 0, and there
the closed form has a pole (2 + sum_hw(A) g = 0): at TinyVGG's block3_conv2 those sums range
from -242 to 1848, and float32 rounding moves its map by up to 4.8e-6 (8e-6 for the same
steps in float32 numpy). Ours multiplies alpha by ReLU(g) before summing, so those positions
never count. The smallest deliberate difference checked is 1.4e-2 (Grad-CAM++ at
EfficientNet's feature map), 1,400 x TOL, and every "differs" assertion asks for > 100 x TOL.
(On a GPU with TF32 matmuls the equal cases would need a looser TOL.)
"""

import functools
import glob
import importlib
import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
from conftest import ILSVRC_MINI, needs_ilsvrc_mini

from wsol_tf.evaluation import extractors
from wsol_tf.evaluation.extractors import CamSpec
from wsol_tf.normalization import minmax_numpy

with warnings.catch_warnings():  # tf-keras-vis 0.8.7 imports scipy.ndimage.interpolation
    warnings.simplefilter("ignore", DeprecationWarning)
    tkv_gradcam = pytest.importorskip(
        "tf_keras_vis.gradcam", reason="tf-keras-vis is not installed (pip install -e '.[test]')"
    )
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.scores import CategoricalScore

TOL = 1e-5  # see the module docstring
TKV_GRADCAMPP_TOL = 5e-5  # tf-keras-vis's Grad-CAM++ against its float64 formula: see there
DIFFERS = 100 * TOL  # what "the maps differ" asks for

# tf-keras-vis's Score-CAM hands Keras 3's predict a list for the single input: harmless.
pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")

TINY_SIZE = (48, 64)
# TinyVGG's classifier is scaled by this after its random init: at init the logits are about
# 0.03, where sum_hw(A) g is tiny next to 2, alpha is 1/2 everywhere and the two Grad-CAM++
# definitions coincide (no test of their difference could fail). Scaled, the logits are 3-6,
# a trained network's range.
TINY_HEAD_SCALE = 100.0
# 14 x 14 x 672, the last ReLU before the 7 x 7 stage: gradients vary by position there.
# A ReLU output because Grad-CAM++'s closed form assumes A >= 0: then its denominator
# 2 g^2 + sum_hw(A) g^3 is >= 2 g^2 where g > 0. At a residual sum (block5c_add) it came
# within 0.3% of a pole, 2 + sum_hw(A) g = 0.006, and float32 rounding alone moved our map
# by 1.6e-5 from its float64 formula.
EFFNET_INNER = "block6a_expand_relu"


def relu(x):
    return np.maximum(x, 0.0)


def assert_equal_maps(got, expected):
    np.testing.assert_allclose(minmax_numpy(got), minmax_numpy(expected), rtol=0, atol=TOL)


def assert_close_per_map(got, expected, tol):
    """Unnormalized maps equal within tol x each map's largest magnitude."""
    for got_map, expected_map in zip(got, expected, strict=True):
        scale = np.abs(expected_map).max()
        np.testing.assert_allclose(got_map, expected_map, rtol=0, atol=tol * scale)


def map_difference(a, b):
    return float(np.abs(minmax_numpy(a) - minmax_numpy(b)).max())


class Case:
    """One network, images and classes; each library's maps, computed once."""

    def __init__(self, model, images, classes):
        import keras

        self.model = model
        self.images = np.asarray(images, np.float32)
        self.classes = [int(c) for c in classes]
        logits = model.head(model.backbone.output)["logits"]
        self.plain = keras.Model(model.backbone.input, logits)  # what tf-keras-vis sees
        self.logits = model(self.images, training=False)["logits"].numpy()

    @functools.cache  # noqa: B019 - a module-scoped fixture holds the instance
    def ours(self, name, layer="features", images=None, cap=64):
        """Our raw (B, h, w) map at `layer` (`images`: an index slice of the batch)."""
        spec = CamSpec(
            name, layers=() if layer == "features" else (layer,), scorecam_max_channels=cap
        )
        x, classes = self._batch(images)
        _, maps = extractors.build(spec)(self.model, tf.constant(x), tf.constant(classes))
        return maps.numpy().astype(np.float64)

    @functools.cache  # noqa: B019
    def theirs(self, kind, layer="features", images=None, **options):
        """tf-keras-vis's raw (B, h, w) map at `layer` (not expanded, not normalized)."""
        x, classes = self._batch(images)
        visualizer = kind(self.plain, clone=False)
        maps = visualizer(
            CategoricalScore(classes),
            x,
            penultimate_layer=layer,
            seek_penultimate_conv_layer=False,
            expand_cam=False,
            normalize_cam=False,
            **options,
        )
        return np.asarray(maps, np.float64)

    def activations_and_gradients(self, layer):
        """float64 numpy (A, dy_c/dA) at `layer`, from the extractors' own plumbing."""
        layers = () if layer == "features" else (layer,)
        _, _, acts, grads = extractors.gradients(
            self.model, tf.constant(self.images), tf.constant(self.classes), layers
        )
        return acts[0].numpy().astype(np.float64), grads[0].numpy().astype(np.float64)

    def _batch(self, images):
        if images is None:
            return self.images, self.classes
        return self.images[images[0] : images[1]], self.classes[images[0] : images[1]]


@pytest.fixture(scope="module")
def tiny():
    import keras

    from wsol_tf import models

    keras.utils.set_random_seed(0)
    model = models.build("tinyvgg", 5, method="cam", image_size=TINY_SIZE, seed=0)
    kernel, bias = model.get_layer("classifier").get_weights()
    model.get_layer("classifier").set_weights([kernel * TINY_HEAD_SCALE, bias])
    images = np.random.default_rng(1).uniform(0, 255, (3, *TINY_SIZE, 3))
    return Case(model, images, classes=[0, 3, 4])


def ilsvrc_images(count=2, size=224):
    """The first `count` ILSVRC val images: shorter side to size + 32, center crop."""
    import cv2

    out = []
    for path in sorted(glob.glob(os.path.join(ILSVRC_MINI, "val", "*.JPEG")))[:count]:
        image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        scale = (size + 32) / min(image.shape[:2])
        width, height = round(image.shape[1] * scale), round(image.shape[0] * scale)
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        top, left = (height - size) // 2, (width - size) // 2
        out.append(image[top : top + size, left : left + size].astype(np.float32))
    return np.stack(out)


@pytest.fixture(scope="module")
def effnet():
    from wsol_tf.models.check_pretrained import imagenet_model

    model, _ = imagenet_model("efficientnet_lite0", image_size=(224, 224))
    images = ilsvrc_images()
    classes = model(images, training=False)["logits"].numpy().argmax(axis=1)  # top-1
    return Case(model, images, classes)


NETWORKS = [
    pytest.param("tiny", id="tinyvgg"),
    pytest.param("effnet", id="effnet_lite0", marks=needs_ilsvrc_mini),
]
LAYERS = {"tiny": ("features", "block3_conv2"), "effnet": ("features", EFFNET_INNER)}
CASES = [
    pytest.param(net.values[0], layer, id=f"{net.id}-{layer}", marks=net.marks)
    for net in NETWORKS
    for layer in LAYERS[net.values[0]]
]


@pytest.fixture
def case(request, network):
    return request.getfixturevalue(network)


# --- the gradient family --------------------------------------------------------------


@pytest.mark.parametrize("network,layer", CASES)
def test_layercam_equals_tf_keras_vis(case, layer):
    assert_equal_maps(case.ours("layercam", layer), case.theirs(Layercam, layer))


@pytest.mark.parametrize("network,layer", CASES)
def test_gradcam_equals_tf_keras_vis_but_for_its_relu(case, layer):
    ours = case.ours("gradcam", layer)
    assert_equal_maps(ours, case.theirs(tkv_gradcam.Gradcam, layer, activation_modifier=None))
    assert_equal_maps(relu(ours), case.theirs(tkv_gradcam.Gradcam, layer))


def gradcampp_reference(a, g, normalize_alpha):
    """Grad-CAM++ in float64 without the factor S = exp(y_c): tf-keras-vis's steps with
    `normalize_alpha` (its guard against a zero denominator, then alpha over its spatial sum
    per channel), ours without."""
    g2, g3 = g * g, g * g * g
    denominator = 2.0 * g2 + a.sum(axis=(1, 2), keepdims=True) * g3
    if normalize_alpha:
        alpha = g2 / (denominator + (g2 == 0.0))
        total = alpha.sum(axis=(1, 2), keepdims=True)
        alpha = alpha / (total + (total == 0.0))
    else:
        ok = (g != 0.0) & (denominator != 0.0)
        alpha = np.where(ok, g2 / np.where(ok, denominator, 1.0), 0.0)
    weights = (alpha * relu(g)).sum(axis=(1, 2))  # (B, K)
    return relu(np.einsum("bhwk,bk->bhw", a, weights))


@pytest.mark.parametrize("network,layer", CASES)
def test_gradcampp_is_tf_keras_vis_without_its_alpha_normalization(case, layer):
    a, g = case.activations_and_gradients(layer)
    theirs = case.theirs(GradcamPlusPlus, layer)
    ours = case.ours("gradcampp", layer)
    # tf-keras-vis: exp(y_c) times the formula with alpha normalized per channel (checked
    # unnormalized, so the exponentiated logit is checked too).
    exp_logit = np.exp(case.logits[np.arange(len(case.classes)), case.classes])
    expected = exp_logit[:, None, None] * gradcampp_reference(a, g, normalize_alpha=True)
    assert_close_per_map(theirs, expected, TKV_GRADCAMPP_TOL)
    # Ours: the formula without that step (S drops out in min-max normalization).
    assert_equal_maps(ours, gradcampp_reference(a, g, normalize_alpha=False))
    # And the step matters here: the two maps differ.
    assert map_difference(ours, theirs) > DIFFERS


@pytest.mark.parametrize("network,layer", CASES)
def test_the_tolerance_tells_gradcampp_from_layercam(case, layer):
    """Our Grad-CAM++ and Layer-CAM maps differ by far more than TOL everywhere, so a wrong
    formula cannot pass for another. tf-keras-vis's Grad-CAM++ equals its Layer-CAM at the
    feature map that global average pooling reads: there g is constant over positions, so
    the normalized alpha is 1 / (h w) and its weight sum_hw(alpha ReLU(S g)) is S ReLU(g),
    Layer-CAM's weight up to S."""
    assert map_difference(case.ours("gradcampp", layer), case.ours("layercam", layer)) > DIFFERS
    theirs = map_difference(case.theirs(GradcamPlusPlus, layer), case.theirs(Layercam, layer))
    if layer == "features":
        assert theirs < TOL
    else:
        assert theirs > DIFFERS


# --- Score-CAM --------------------------------------------------------------------------

SCORECAM = importlib.import_module("wsol_tf.evaluation.extractors.scorecam")


def aligned_corners_resize(maps, size):
    """(B, h, w) -> (B, H, W) bilinear with corners aligned: scipy.ndimage.zoom(order=1)'s
    sampling grid, which tf-keras-vis uses to upsample Score-CAM's channels."""
    resized = tf.compat.v1.image.resize_bilinear(maps[..., None], size, align_corners=True)
    return resized[..., 0]


def scorecam_now(case, images, cap):
    """Our Score-CAM map of images[slice(*images)], computed now (not the cached one): the
    tests patch its upsampling."""
    x, classes = case.images[slice(*images)], case.classes[slice(*images)]
    spec = CamSpec("scorecam", scorecam_max_channels=cap)
    return extractors.build(spec)(case.model, tf.constant(x), tf.constant(classes))[1].numpy()


# (network, images scored, channel cap): every channel on TinyVGG (256, two images);
# EfficientNet-Lite0's 1280 would take minutes, so one image and its 16 channels of largest
# variance, which both libraries choose alike for a single image.
SCORECAM_CASES = [
    pytest.param("tiny", (0, 2), 0, id="tinyvgg-all_channels"),
    pytest.param("effnet", (0, 1), 16, id="effnet_lite0-16_channels", marks=needs_ilsvrc_mini),
]


@pytest.mark.parametrize("network,images,cap", SCORECAM_CASES)
def test_scorecam_equals_tf_keras_vis_with_its_upsampling(case, images, cap, monkeypatch):
    theirs = case.theirs(Scorecam, images=images, max_N=cap or None)
    as_is = case.ours("scorecam", images=images, cap=cap)
    monkeypatch.setattr(SCORECAM, "resize_maps", aligned_corners_resize)
    assert_equal_maps(scorecam_now(case, images, cap), theirs)
    # With our half-pixel upsampling the masks, hence the weights, differ a little: measured
    # 0.029 (TinyVGG, 6 x 8 -> 48 x 64) and 0.037 (EfficientNet, 7 x 7 -> 224 x 224).
    assert DIFFERS < map_difference(as_is, theirs) < 0.1


def test_scorecam_caps_channels_per_image_where_tf_keras_vis_takes_the_batch_union(
    tiny, monkeypatch
):
    cap = 8
    features = tiny.model(tiny.images, training=False)["features"].numpy()
    tops = [set(np.argsort(-v, kind="stable")[:cap]) for v in features.var(axis=(1, 2))]
    union = set().union(*tops)
    assert len(union) > cap  # so the two rules differ on this batch
    monkeypatch.setattr(SCORECAM, "resize_maps", aligned_corners_resize)
    ours = scorecam_now(tiny, (0, len(tiny.images)), cap)
    one_by_one = np.concatenate(
        [tiny.theirs(Scorecam, images=(i, i + 1), max_N=cap) for i in range(len(tiny.images))]
    )
    assert_equal_maps(ours, one_by_one)
    batched = tiny.theirs(Scorecam, max_N=cap)  # scores the union for every image
    assert map_difference(ours, batched) > DIFFERS


# --- Eigen-CAM --------------------------------------------------------------------------


def eigencam_reference(features):
    """numpy's SVD in float64 with our sign rule: (maps, projections centered @ v, the raw
    first right singular vectors as numpy returns them), maps = ReLU(projections)."""
    b, h, w, k = features.shape
    projections, raw = [], []
    for flat in np.asarray(features, np.float64).reshape(b, h * w, k):
        centered = flat - flat.mean(axis=0)
        v = np.linalg.svd(centered, full_matrices=False)[2][0]
        raw.append(v)
        v = -v if v.sum() < 0 else v
        projections.append((centered @ v).reshape(h, w))
    projections = np.stack(projections)
    return relu(projections), projections, np.stack(raw)


@pytest.mark.parametrize("network", NETWORKS)
def test_eigencam_equals_numpy_svd(case):
    features = case.model(case.images, training=False)["features"].numpy()
    flat = features.reshape(len(features), -1, features.shape[-1]).astype(np.float64)
    singular = np.linalg.svd(flat - flat.mean(axis=1, keepdims=True), compute_uv=False)
    # A clear gap between the first two singular values makes the first component
    # well-determined in float32 (measured: 1.13 on TinyVGG's noise images).
    assert (singular[:, 0] / singular[:, 1]).min() > 1.05
    expected = eigencam_reference(features)[0]
    ours = case.ours("eigencam")
    assert_equal_maps(ours, expected)
    assert_close_per_map(ours, expected, TOL)  # unnormalized too: the projection itself


class FeaturesModel:
    """Stands in for a WSOL model whose feature map is its input, so the test chooses it."""

    def __call__(self, images, training=False):
        return {"features": images, "logits": tf.zeros((tf.shape(images)[0], 1))}


def test_eigencam_sign_rule_whatever_sign_the_svd_returns(monkeypatch):
    """Two images whose first component is known (a blob along direction d plus noise); the
    SVD is run as it is and with its singular vectors negated (as valid an SVD, and what
    another LAPACK may return), so in one of the two runs the raw component of each image
    sums to < 0 and the rule has to flip it. Both runs give the sign-fixed map, which is
    not the other orientation's map."""
    rng = np.random.default_rng(0)
    h, w = 6, 8
    blob = np.zeros((h, w))
    blob[1:3, 2:5] = 1.0
    directions = np.array([[3.0, -1.0, 0.5], [-3.0, 1.0, -0.5]])  # channel sums 2.5, -2.5
    features = blob[None, :, :, None] * directions[:, None, None, :] * 4.0
    features = (features + rng.normal(0, 0.1, features.shape) + 1.0).astype(np.float32)
    expected, projections, _ = eigencam_reference(features)
    assert map_difference(expected, relu(-projections)) > 0.5  # the sign decides the map
    # The rule's orientation: a non-negative correlation of the projection with the
    # (centered) channel-sum map, sum_n p_n (A 1)_n = lambda sum_k v_k.
    flat = features.reshape(2, -1, 3).astype(np.float64)
    channel_sum = (flat - flat.mean(axis=1, keepdims=True)).sum(axis=2)
    assert (np.einsum("bn,bn->b", projections.reshape(2, -1), channel_sum) > 0).all()

    raw_sums = []
    svd = tf.linalg.svd

    def recording_svd(x, negate):
        s, u, v = svd(x)
        if negate:
            u, v = -u, -v
        raw_sums.append(tf.reduce_sum(v[:, :, 0], axis=1).numpy())
        return s, u, v

    for negate in (False, True):
        monkeypatch.setattr(tf.linalg, "svd", lambda x, n=negate: recording_svd(x, n))
        _, maps = extractors.build("eigencam")(FeaturesModel(), tf.constant(features), None)
        assert_equal_maps(maps.numpy(), expected)
    assert (np.minimum(raw_sums[0], raw_sums[1]) < 0).all()  # the rule was exercised
