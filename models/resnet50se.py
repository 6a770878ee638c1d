"""ResNet50-SE (the ADL paper's and Tensorpack's): ResNet50 with a squeeze-and-excitation
block (reduction 16) in every bottleneck, stage 5 at stride 1, GAP and a dense classifier.

It follows the original ADL code (`backbone/resnet.py`, Tensorpack's
`se_resnet_bottleneck`): convs without bias, each followed by BatchNorm
(epsilon 1e-5, momentum 0.9); the stride of a stage's first block sits on its
3x3 conv (and the 1x1 shortcut); SAME padding throughout, the stem included;
the last BN of a block starts with gamma = 0; SE = GAP -> FC(C/16) + ReLU ->
FC(C) + sigmoid -> channel scaling of the residual branch before the addition.
Stage 5 has stride 1, so the map is 1/16 of the input (14x14 at 224).

Layer names follow keras.applications' ResNet50 (conv{s}_block{b}_{k}_conv/_bn)
plus `_se_reduce` / `_se_expand` for the SE layers; the last block's output is
"features".

Input: RGB float in [0, 255], normalized as the Tensorpack ResNet weights
expect: RGB -> BGR, x / 255, minus the torchvision mean and divided by its std
(reversed to BGR order) (`ImageNetPreprocessing("tensorpack")`).

Positions and defaults: as `resnet50` (after conv4_block1_out,
conv5_block1_out and features, i.e. Tensorpack's group2/block0, group3/block0
and group3's output); gamma 0.9.

ImageNet weights: only from the original Tensorpack checkpoint
(ImageNet-ResNet50-SE.npz, the one the ADL code starts from): `--pretrained=imagenet` takes it
from the Keras cache (`<keras home>/models/`), downloading it there from Tensorpack's model zoo
when absent, or `--pretrained=/path/ImageNet-ResNet50-SE.npz`.
Name mapping (Tensorpack -> ours; g = stage - 2, k = block - 1; a ":0" suffix
is accepted; BN weights are gamma, beta, mean/EMA, variance/EMA):

    conv0/W, conv0/bn/*                        -> conv1_conv, conv1_bn
    group{g}/block{k}/conv{1,2,3}/W            -> conv{s}_block{b}_{1,2,3}_conv
    group{g}/block{k}/conv{1,2,3}/bn/*         -> conv{s}_block{b}_{1,2,3}_bn
    group{g}/block{k}/convshortcut/W, bn/*     -> conv{s}_block{b}_0_conv, _0_bn
    group{g}/block{k}/fc1/W, fc1/b             -> conv{s}_block{b}_se_reduce
    group{g}/block{k}/fc2/W, fc2/b             -> conv{s}_block{b}_se_expand
    linear/W, linear/b (ImageNet classifier)   -> not used; "classifier" is new

Parameters for 200 classes: 26,501,944 (see tests/test_backbones.py for the
count by hand), i.e. 106.0 MB in float32, BN statistics included (paper: 107 MB).
"""

import functools

from wsol_tf.models import resnet50
from wsol_tf.models._lazy import keras
from wsol_tf.models.pretrained import TensorpackWeights
from wsol_tf.models.spec import BackboneSpec, BackboneWeights, register
from wsol_tf.models.taps import Taps

NAME = "resnet50se"
STAGES = resnet50.STAGES
SE_RATIO = 16
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
# No keras.applications counterpart: ImageNet weights are Tensorpack's checkpoint.
TENSORPACK_WEIGHTS = TensorpackWeights(
    "ImageNet-ResNet50-SE.npz", "http://models.tensorpack.com/ResNet/ImageNet-ResNet50-SE.npz"
)


@functools.cache
def _conv_init():
    """One initializer shared by every conv (as the module-level constant it was), made on
    first use so importing this module does not import Keras."""
    return keras.initializers.VarianceScaling(2.0, mode="fan_out", distribution="truncated_normal")


_BN_WEIGHTS = ("gamma", "beta", "mean/EMA", "variance/EMA")


def _conv_bn(x, filters, kernel, name, strides=1, zero_gamma=False):
    x = keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer=_conv_init(),
        name=f"{name}_conv",
    )(x)
    return keras.layers.BatchNormalization(
        epsilon=BN_EPSILON,
        momentum=BN_MOMENTUM,
        gamma_initializer="zeros" if zero_gamma else "ones",
        name=f"{name}_bn",
    )(x)


def _squeeze_excite(x, channels, name):
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
    s = keras.layers.Dense(channels // SE_RATIO, activation="relu", name=f"{name}_se_reduce")(s)
    s = keras.layers.Dense(channels, activation="sigmoid", name=f"{name}_se_expand")(s)
    return keras.layers.Multiply(name=f"{name}_se_scale")([x, s])


def _se_bottleneck(x, width, stride, conv_shortcut, name, out_name):
    if conv_shortcut:
        shortcut = _conv_bn(x, 4 * width, 1, f"{name}_0", strides=stride)
    else:
        shortcut = x
    x = _conv_bn(x, width, 1, f"{name}_1")
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = _conv_bn(x, width, 3, f"{name}_2", strides=stride)  # Tensorpack strides the 3x3
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = _conv_bn(x, 4 * width, 1, f"{name}_3", zero_gamma=True)
    x = _squeeze_excite(x, 4 * width, name)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=out_name)(x)


def build_features(inserter: Taps, image_size=(224, 224)):
    """Builds ResNet50-SE with stage 5 at stride 1.

    Args:
        inserter: the method's taps (`Taps.after`) at the named positions.
        image_size: (h, w) of the input.

    Returns:
        The backbone `keras.Model` from RGB images in [0, 255] to its last
        layer "features" (2048 channels, 1/16 of the input);
        no head (the method adds it).
    """
    from wsol_tf.models.preprocessing import ImageNetPreprocessing  # imports keras

    inputs = keras.Input((image_size[0], image_size[1], 3), name="image")
    x = ImageNetPreprocessing("tensorpack", name="preprocess")(inputs)
    x = _conv_bn(x, 64, 7, "conv1", strides=2)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_pool")(x)
    x = inserter.after("pool1_pool", x)
    out_names = iter(resnet50.block_output_names())
    for stage, width, blocks, stride in STAGES:
        for b in range(1, blocks + 1):
            out_name = next(out_names)
            first = b == 1
            x = _se_bottleneck(
                x, width, stride if first else 1, first, f"conv{stage}_block{b}", out_name
            )
            x = inserter.after(out_name, x)
    inserter.check_all_inserted()
    return keras.Model(inputs, x, name=NAME)


def tensorpack_names(model):
    """{our layer name: [Tensorpack variable names in the layer's weight order]}."""
    names = {"conv1_conv": ["conv0/W"], "conv1_bn": [f"conv0/bn/{w}" for w in _BN_WEIGHTS]}
    for stage, _, blocks, _ in STAGES:
        for b in range(1, blocks + 1):
            ours, theirs = f"conv{stage}_block{b}", f"group{stage - 2}/block{b - 1}"
            convs = {"1": "conv1", "2": "conv2", "3": "conv3"}
            if b == 1:
                convs["0"] = "convshortcut"
            for k, tp in convs.items():
                names[f"{ours}_{k}_conv"] = [f"{theirs}/{tp}/W"]
                names[f"{ours}_{k}_bn"] = [f"{theirs}/{tp}/bn/{w}" for w in _BN_WEIGHTS]
            names[f"{ours}_se_reduce"] = [f"{theirs}/fc1/W", f"{theirs}/fc1/b"]
            names[f"{ours}_se_expand"] = [f"{theirs}/fc2/W", f"{theirs}/fc2/b"]
    return names


SPEC = register(
    BackboneSpec(
        name=NAME,
        build_features=build_features,
        positions=resnet50.POSITIONS,
        default_positions=resnet50.DEFAULT_POSITIONS,
        preprocessing="tensorpack",
        default_gamma=0.9,
        side_taps=resnet50.SIDE_TAPS,
        # Learning-rate groups: Tensorpack trains conv0 and group0-2 at 0.1x and group3
        # (stage 5) and the classifier at 1x (_LR_SCALE in junsukchoe/ADL train.py).
        new_layer_prefixes=resnet50.NEW_LAYER_PREFIXES,
        feature_stride=16,
        weights=BackboneWeights(tensorpack=TENSORPACK_WEIGHTS, tensorpack_names=tensorpack_names),
    )
)
