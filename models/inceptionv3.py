"""InceptionV3 adapted for WSOL as in SPG and the PyTorch benchmark (wsolevaluation).

Surgery on keras.applications.InceptionV3 (whose stem and blocks are kept
exactly, so its ImageNet weights and outputs carry over up to mixed2):
1. mixed3 (torchvision's Mixed_6a, the 35 -> 17 reduction) runs at stride 1:
   its two stride-2 3x3 convs and its 3x3 max pool become stride 1 with SAME
   padding.
2. mixed8-mixed10 (Mixed_7a-7c) and the top are removed.
3. SPG's head is added after mixed7 (Mixed_6e): two 3x3 convs with 1024
   channels + ReLU, `spg_a3_1b` and "features" (SPG_A3_1b / SPG_A3_2b), then
   GAP and a dense classifier. (wsolevaluation's SPG_A4 1x1 conv + GAP is the
   same linear map as GAP + dense.)

Map size: keras' VALID stem gives 25x25 at 224 (37 at 320; `feature_map_size`),
against 5x5 for the unmodified network. wsolevaluation pads its stem (first
conv padding 1, max pools with padding 1 and ceil mode) to reach 28x28; we
keep keras' padding so the ImageNet weights see the borders they were trained
with and the outputs match keras.applications' through mixed2.

Input: RGB float in [0, 255], scaled to [-1, 1] inside the model as keras'
ImageNet weights expect (`ImageNetPreprocessing("tf")`).

Positions: mixed0..mixed7 (block outputs), spg_a3_1b and features. Defaults
(wsolevaluation's ADL positions): after Mixed_5d, after Mixed_6e, after the SPG
head = mixed2, mixed7, features; gamma 0.8.

Weight transfer: keras' InceptionV3 layers have automatic names (conv2d_17,
batch_normalization_17, ...); they are matched to ours by order of creation
(the numeric suffix), which this builder reproduces, and checked by shape.

Parameters for 200 classes: 25,697,384 = stem and mixed0-7 (BN without gamma,
statistics included) + SPG head 16,517,120 + classifier 205,000, i.e. 102.8 MB
in float32 against the paper's 101 MB (tests/test_backbones.py derives it by
hand). The paper does not give its exact head; SPG's two 3x3 convs with 1024
channels dominate the difference to keras' 21.8 M no-top InceptionV3.
"""

import re

from wsol_tf.models._lazy import keras
from wsol_tf.models.pretrained import KerasWeights
from wsol_tf.models.spec import BackboneSpec, BackboneWeights, register
from wsol_tf.models.taps import Taps

NAME = "inceptionv3"
HEAD_CHANNELS = 1024
POSITIONS = (*[f"mixed{i}" for i in range(8)], "spg_a3_1b", "features")
MIN_IMAGE_SIZE = 64  # the stem's valid convs and pools (TrainConfig.validate checks it)
KERAS_WEIGHTS = KerasWeights(
    application="InceptionV3",
    file_name="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
    origin="https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
    file_hash="bcbd6486424b2319ff4ef7d526e38f63",
)
_ORDER_ATTR = "_wsol_conv_bn_order"


def feature_map_size(size):
    """Side of the "features" map for an input side `size` (keras' VALID stem)."""
    size = (size - 3) // 2 + 1  # stem_1a, stride 2
    size = size - 2  # stem_2a, VALID (stem_2b is SAME)
    size = (size - 3) // 2 + 1  # stem_pool1
    size = size - 2  # stem_4a, VALID
    return (size - 3) // 2 + 1  # stem_pool2; nothing strided after it


class _ConvBN:
    """Creates conv + BN (no scale) + ReLU units and records their creation order."""

    def __init__(self):
        self.order = []

    def __call__(self, x, filters, kernel, name, strides=1, padding="same"):
        x = keras.layers.Conv2D(
            filters, kernel, strides=strides, padding=padding, use_bias=False, name=f"{name}_conv"
        )(x)
        x = keras.layers.BatchNormalization(scale=False, name=f"{name}_bn")(x)
        self.order.append(name)
        return keras.layers.Activation("relu", name=name)(x)


def _block_a(conv, x, pool_filters, name):
    b1 = conv(x, 64, 1, f"{name}_1x1")
    b5 = conv(x, 48, 1, f"{name}_5x5_1")
    b5 = conv(b5, 64, 5, f"{name}_5x5_2")
    b3 = conv(x, 64, 1, f"{name}_3x3dbl_1")
    b3 = conv(b3, 96, 3, f"{name}_3x3dbl_2")
    b3 = conv(b3, 96, 3, f"{name}_3x3dbl_3")
    bp = keras.layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_avgpool")(x)
    bp = conv(bp, pool_filters, 1, f"{name}_pool")
    return keras.layers.Concatenate(name=name)([b1, b5, b3, bp])


def _block_b_stride1(conv, x, name):
    # keras: stride 2, VALID; SPG / wsolevaluation: stride 1, padded.
    b3 = conv(x, 384, 3, f"{name}_3x3")
    bd = conv(x, 64, 1, f"{name}_3x3dbl_1")
    bd = conv(bd, 96, 3, f"{name}_3x3dbl_2")
    bd = conv(bd, 96, 3, f"{name}_3x3dbl_3")
    bp = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_maxpool")(x)
    return keras.layers.Concatenate(name=name)([b3, bd, bp])


def _block_c(conv, x, c7, name):
    b1 = conv(x, 192, 1, f"{name}_1x1")
    b7 = conv(x, c7, 1, f"{name}_7x7_1")
    b7 = conv(b7, c7, (1, 7), f"{name}_7x7_2")
    b7 = conv(b7, 192, (7, 1), f"{name}_7x7_3")
    bd = conv(x, c7, 1, f"{name}_7x7dbl_1")
    bd = conv(bd, c7, (7, 1), f"{name}_7x7dbl_2")
    bd = conv(bd, c7, (1, 7), f"{name}_7x7dbl_3")
    bd = conv(bd, c7, (7, 1), f"{name}_7x7dbl_4")
    bd = conv(bd, 192, (1, 7), f"{name}_7x7dbl_5")
    bp = keras.layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_avgpool")(x)
    bp = conv(bp, 192, 1, f"{name}_pool")
    return keras.layers.Concatenate(name=name)([b1, b7, bd, bp])


def build_features(inserter: Taps, image_size=(224, 224)):
    """Builds the WSOL InceptionV3 (SPG variant on keras' stem).

    Args:
        inserter: the method's taps (`Taps.after`) at the named positions.
        image_size: (h, w) of the input, each at least 64.

    Returns:
        The backbone `keras.Model` from RGB images in [0, 255] to its last
        layer "features" (1024 channels, `feature_map_size` of the input);
        no head (the method adds it).
    """
    if min(image_size) < MIN_IMAGE_SIZE:
        raise ValueError(
            f"InceptionV3 needs an input of at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}, got "
            f"{image_size}."
        )
    conv = _ConvBN()
    from wsol_tf.models.preprocessing import ImageNetPreprocessing  # imports keras

    inputs = keras.Input((image_size[0], image_size[1], 3), name="image")
    x = ImageNetPreprocessing("tf", name="preprocess")(inputs)
    x = conv(x, 32, 3, "stem_1a", strides=2, padding="valid")
    x = conv(x, 32, 3, "stem_2a", padding="valid")
    x = conv(x, 64, 3, "stem_2b")
    x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool1")(x)
    x = conv(x, 80, 1, "stem_3b", padding="valid")
    x = conv(x, 192, 3, "stem_4a", padding="valid")
    x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool2")(x)
    for i, pool_filters in enumerate((32, 64, 64)):
        x = inserter.after(f"mixed{i}", _block_a(conv, x, pool_filters, f"mixed{i}"))
    x = inserter.after("mixed3", _block_b_stride1(conv, x, "mixed3"))
    for i, c7 in enumerate((128, 160, 160, 192), start=4):
        x = inserter.after(f"mixed{i}", _block_c(conv, x, c7, f"mixed{i}"))
    for name in ("spg_a3_1b", "features"):
        x = keras.layers.Conv2D(HEAD_CHANNELS, 3, padding="same", activation="relu", name=name)(x)
        x = inserter.after(name, x)
    inserter.check_all_inserted()
    model = keras.Model(inputs, x, name=NAME)
    object.__setattr__(model, _ORDER_ATTR, tuple(conv.order))  # plain, untracked attribute
    return model


def _creation_index(layer):
    match = re.search(r"_(\d+)$", layer.name)
    return int(match.group(1)) if match else 0


def match_keras_layers(model, reference):
    """{our layer name: keras.applications layer} pairing conv/BN units by creation order."""
    order = getattr(model, _ORDER_ATTR)
    convs = sorted(
        (la for la in reference.layers if isinstance(la, keras.layers.Conv2D)), key=_creation_index
    )
    norms = sorted(
        (la for la in reference.layers if isinstance(la, keras.layers.BatchNormalization)),
        key=_creation_index,
    )
    pairs = {}
    for name, conv, norm in zip(order, convs, norms, strict=False):
        pairs[f"{name}_conv"] = conv
        pairs[f"{name}_bn"] = norm
    return pairs


SPEC = register(
    BackboneSpec(
        name=NAME,
        build_features=build_features,
        positions=POSITIONS,
        default_positions=("mixed2", "mixed7", "features"),  # wsolevaluation's ADL
        preprocessing="tf",
        default_gamma=0.8,
        side_taps=("mixed2", "mixed6"),  # wsolevaluation's SPG: Mixed_5d, Mixed_6d
        new_layer_prefixes=("spg_", "features", "classifier"),  # the SPG head is new
        min_image_size=MIN_IMAGE_SIZE,
        feature_stride=None,  # `feature_map_size`: keras' VALID stem
        weights=BackboneWeights(
            keras=KERAS_WEIGHTS, match_keras_layers=match_keras_layers, resolution=299
        ),
    )
)
