"""MobileNetV1 (keras.applications graph, width 1.0) with its last strided depthwise conv
at stride 1, GAP and a dense classifier.

The graph is keras.applications.MobileNet's (alpha 1, depth multiplier 1)
layer for layer and name for name, with two changes: depthwise block 12
(`conv_dw_12`, the last stride-2 conv) runs at stride 1 with SAME padding (its
`conv_pad_12` is dropped), so the feature map is 1/16 of the input (14x14 at
224); and the last pointwise ReLU (`conv_pw_13_relu`) is named "features".
The original ADL code for MobileNetV1 was never released.

Input: RGB float in [0, 255], scaled to [-1, 1] inside the model as keras'
ImageNet weights expect (`ImageNetPreprocessing("tf")`).

Positions: conv1_relu, conv_pw_{1..12}_relu and "features" (conv_pw_13_relu).
Defaults: the paper only says "intermediate and high layers"; we mirror VGG's
best setting (end of the 28x28 stage, end of the 14x14 stage, last layer):
conv_pw_5_relu, conv_pw_11_relu, features; gamma 0.95 (paper).

Parameters for 200 classes: 3,228,864 (keras' no-top MobileNet, BN statistics
included; 2,257,984 without them... see the test for the count by hand) +
205,000 (classifier) = 3,433,864, i.e. 13.7 MB in float32. The paper's 16 MB
matches MobileNetV1 with its 1000-class ImageNet classifier instead:
3,228,864 + 1,025,000 = 4,253,864 parameters = 17.0 MB = 16.2 MiB.
"""

from wsol_tf.models._lazy import keras
from wsol_tf.models.pretrained import KerasWeights
from wsol_tf.models.spec import BackboneSpec, BackboneWeights, register
from wsol_tf.models.taps import Taps

NAME = "mobilenetv1"
# (pointwise filters, stride) of depthwise blocks 1..13; block 12 was stride 2 in keras.
BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 1),
    (1024, 1),
)
POSITIONS = ("conv1_relu", *[f"conv_pw_{i}_relu" for i in range(1, 13)], "features")
KERAS_WEIGHTS = KerasWeights(
    application="MobileNet",
    file_name="mobilenet_1_0_224_tf_no_top.h5",
    origin="https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
    "mobilenet_1_0_224_tf_no_top.h5",
    file_hash=None,  # keras itself checks no hash for MobileNet
)


def _depthwise_block(x, filters, stride, block_id, out_name):
    if stride == 2:
        x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = keras.layers.DepthwiseConv2D(
        3,
        strides=stride,
        padding="same" if stride == 1 else "valid",
        use_bias=False,
        name=f"conv_dw_{block_id}",
    )(x)
    x = keras.layers.BatchNormalization(name=f"conv_dw_{block_id}_bn")(x)
    x = keras.layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"conv_pw_{block_id}")(x)
    x = keras.layers.BatchNormalization(name=f"conv_pw_{block_id}_bn")(x)
    return keras.layers.ReLU(6.0, name=out_name)(x)


def build_features(inserter: Taps, image_size=(224, 224)):
    """Builds MobileNetV1 with the last strided depthwise conv at stride 1.

    Args:
        inserter: the method's taps (`Taps.after`) at the named positions.
        image_size: (h, w) of the input.

    Returns:
        The backbone `keras.Model` from RGB images in [0, 255] to its last
        layer "features" (1024 channels, 1/16 of the input);
        no head (the method adds it).
    """
    from wsol_tf.models.preprocessing import ImageNetPreprocessing  # imports keras

    inputs = keras.Input((image_size[0], image_size[1], 3), name="image")
    x = ImageNetPreprocessing("tf", name="preprocess")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="conv1")(x)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.ReLU(6.0, name="conv1_relu")(x)
    x = inserter.after("conv1_relu", x)
    for block_id, (filters, stride) in enumerate(BLOCKS, start=1):
        out_name = "features" if block_id == len(BLOCKS) else f"conv_pw_{block_id}_relu"
        x = _depthwise_block(x, filters, stride, block_id, out_name)
        x = inserter.after(out_name, x)
    inserter.check_all_inserted()
    return keras.Model(inputs, x, name=NAME)


SPEC = register(
    BackboneSpec(
        name=NAME,
        build_features=build_features,
        positions=POSITIONS,
        default_positions=("conv_pw_5_relu", "conv_pw_11_relu", "features"),
        preprocessing="tf",
        default_gamma=0.95,  # paper
        side_taps=(),  # no SPG setting published: --method=spg needs --positions
        feature_stride=16,
        weights=BackboneWeights(keras=KERAS_WEIGHTS),
    )
)
