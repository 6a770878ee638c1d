"""ResNet50 (keras.applications graph) with stage 5 at stride 1, GAP and a dense classifier.

The graph is keras.applications.ResNet50's, layer for layer and name for name,
except that the first block of stage 5 (`conv5_block1_1_conv` and its shortcut
`conv5_block1_0_conv`) has stride 1, so the feature map is 1/16 of the input
(14x14 at 224), and the last block's output is named "features" (it has no
weights, so weight files still load by name). This is the later PyTorch
benchmark's (wsolevaluation) ResNet50.

Input: RGB float in [0, 255]; normalized inside the model as keras' ImageNet
weights expect (Caffe mode: RGB -> BGR, minus the Caffe BGR mean).

Positions: `pool1_pool` and every block output `conv{2..5}_block{i}_out`, the
last one being "features". Defaults (the paper's ResNet50-SE setting): after
block 1 of stage 4, after block 1 of stage 5, after stage 5 = conv4_block1_out,
conv5_block1_out, features; gamma 0.9.

Parameters for 200 classes: 23,587,712 (keras' no-top ResNet50, BN statistics
included) + 409,800 (classifier) = 23,997,512.
"""

from wsol_tf.models._lazy import keras
from wsol_tf.models.pretrained import KerasWeights
from wsol_tf.models.spec import BackboneSpec, BackboneWeights, register
from wsol_tf.models.taps import Taps

NAME = "resnet50"
# (stage, bottleneck width, blocks, stride of the first block)
STAGES = ((2, 64, 3, 1), (3, 128, 4, 2), (4, 256, 6, 2), (5, 512, 3, 1))
BN_EPSILON = 1.001e-5


def block_output_names(stages=STAGES):
    """Output names of all bottleneck blocks; the last is "features"."""
    names = [f"conv{s}_block{b}_out" for s, _, blocks, _ in stages for b in range(1, blocks + 1)]
    return names[:-1] + ["features"]


POSITIONS = ("pool1_pool", *block_output_names())
# The paper's ResNet50-SE setting (ResNet50-SE shares them).
DEFAULT_POSITIONS = ("conv4_block1_out", "conv5_block1_out", "features")
# wsolevaluation's ResNet50 SPG (ResNet50-SE shares them).
SIDE_TAPS = ("conv4_block1_out", "conv4_block6_out")
# Learning-rate groups: stage 5 and the classifier are new (wsolevaluation trains layer4 and
# fc at 10x; Tensorpack keeps its ResNet's last stage at 1x).
NEW_LAYER_PREFIXES = ("conv5_", "features", "classifier")
KERAS_WEIGHTS = KerasWeights(
    application="ResNet50",
    file_name="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    origin="https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    file_hash="4d473c1dd8becc155b73f8504c6f6626",
)


def _conv_bn(x, filters, kernel, name, strides=1, padding="valid"):
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, name=f"{name}_conv")(
        x
    )
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)


def _bottleneck(x, width, stride, conv_shortcut, name, out_name):
    if conv_shortcut:
        shortcut = _conv_bn(x, 4 * width, 1, f"{name}_0", strides=stride)
    else:
        shortcut = x
    x = _conv_bn(x, width, 1, f"{name}_1", strides=stride)  # keras strides the first 1x1
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = _conv_bn(x, width, 3, f"{name}_2", padding="same")
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = _conv_bn(x, 4 * width, 1, f"{name}_3")
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=out_name)(x)


def build_features(inserter: Taps, image_size=(224, 224)):
    """Builds ResNet50 with stage 5 at stride 1.

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
    x = ImageNetPreprocessing("caffe", name="preprocess")(inputs)
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = _conv_bn(x, 64, 7, "conv1", strides=2)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = inserter.after("pool1_pool", x)
    out_names = iter(block_output_names())
    for stage, width, blocks, stride in STAGES:
        for b in range(1, blocks + 1):
            out_name = next(out_names)
            first = b == 1
            x = _bottleneck(
                x, width, stride if first else 1, first, f"conv{stage}_block{b}", out_name
            )
            x = inserter.after(out_name, x)
    inserter.check_all_inserted()
    return keras.Model(inputs, x, name=NAME)


SPEC = register(
    BackboneSpec(
        name=NAME,
        build_features=build_features,
        positions=POSITIONS,
        default_positions=DEFAULT_POSITIONS,
        preprocessing="caffe",
        default_gamma=0.9,
        side_taps=SIDE_TAPS,
        new_layer_prefixes=NEW_LAYER_PREFIXES,
        feature_stride=16,
        weights=BackboneWeights(keras=KERAS_WEIGHTS),
    )
)
