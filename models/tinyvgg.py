"""TinyVGG-GAP: a small VGG-style WSOL backbone that trains from scratch on a CPU.

It keeps VGG-GAP's shape at a fraction of its cost: four conv blocks (pooling
after the first three only, so the map is 1/8 of the input), an extra 3x3 conv
+ ReLU named "features" (VGG-GAP's added conv), global average pooling and a
dense classifier named "classifier". BatchNorm replaces ImageNet pretraining
as what makes training from scratch converge in minutes.

Positions (the output of the named layer): block{1,2,3}_pool, block{1..4}_conv2
and features. The defaults mirror VGG-GAP's best setting in the paper's
Table 2 (after pool3-, pool4- and conv5_3-like layers): block2_pool,
block3_pool, block4_conv2.
"""

from wsol_tf.models._lazy import keras
from wsol_tf.models.spec import BackboneSpec, register
from wsol_tf.models.taps import Taps

NAME = "tinyvgg"
WIDTHS = (32, 64, 128, 256)
POSITIONS = (
    "block1_conv2",
    "block1_pool",
    "block2_conv2",
    "block2_pool",
    "block3_conv2",
    "block3_pool",
    "block4_conv2",
    "features",
)
# ImageNet channel statistics, RGB in [0, 255].
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


def _conv_bn_relu(x, filters, name):
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    # Momentum 0.9 (Keras: 0.99) so the moving statistics settle within a short CPU run.
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=name)(x)


def build_features(inserter: Taps, image_size=(96, 96), widths=WIDTHS):
    """Builds TinyVGG-GAP.

    Args:
        inserter: the method's taps (`Taps.after`) at the named positions.
        image_size: (h, w) of the input; RGB float in [0, 255].
        widths: channels of the four blocks.

    Returns:
        The backbone `keras.Model` from RGB images in [0, 255] to its last
        layer "features" (the CAM's feature map, 1/8 of the input);
        no head (the method adds it).
    """
    inputs = keras.Input((image_size[0], image_size[1], 3), name="image")
    x = keras.layers.Normalization(mean=MEAN, variance=[s * s for s in STD], name="normalize")(
        inputs
    )
    for block, filters in enumerate(widths, start=1):
        x = _conv_bn_relu(x, filters, f"block{block}_conv1")
        x = _conv_bn_relu(x, filters, f"block{block}_conv2")
        x = inserter.after(f"block{block}_conv2", x)
        if block < len(widths):
            x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
            x = inserter.after(f"block{block}_pool", x)
    x = keras.layers.Conv2D(widths[-1], 3, padding="same", name="features_conv")(x)
    x = keras.layers.ReLU(name="features")(x)
    x = inserter.after("features", x)
    inserter.check_all_inserted()
    return keras.Model(inputs, x, name=NAME)


SPEC = register(
    BackboneSpec(
        name=NAME,
        build_features=build_features,
        positions=POSITIONS,
        default_positions=("block2_pool", "block3_pool", "block4_conv2"),
        preprocessing="mean_std",  # MEAN, STD above, in a keras Normalization layer
        default_gamma=0.8,
        side_taps=("block3_pool", "block4_conv2"),  # VGG16-GAP's SPG taps, one block down
        feature_stride=8,
    )
)
