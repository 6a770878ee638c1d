"""VGG16-GAP (VGG-GAP in the ADL paper): VGG16 without pool5 and the FC layers, plus a
3x3 conv with 1024 channels + ReLU, global average pooling and a dense classifier.

The feature map is 1/16 of the input (14x14 at 224). Layer names are
keras.applications.VGG16's (`block{i}_conv{j}`, `block{i}_pool`), so its ImageNet
weights load by name; the added conv is "features" and the dense layer
"classifier", both new.

Input: RGB float in [0, 255]; normalized inside the model as the Caffe VGG16
weights expect (RGB -> BGR, minus the Caffe BGR mean; `ImageNetPreprocessing("caffe")`).

Positions: every conv (`block{i}_conv{j}`, output after its ReLU), `block{1..4}_pool`
and "features". Defaults: the paper's best setting (Table 2): after pool3,
after pool4, after conv5_3 = block3_pool, block4_pool, block5_conv3; gamma 0.8.

Tensorpack checkpoint naming (the ADL repo's `vgg_gap` and vgg16.npz):
    conv{i}_{j}/W, conv{i}_{j}/b  ->  block{i}_conv{j} kernel, bias
The ADL repo's new layers ("new", "linear") are not mapped: they are trained anew.

Parameters for 200 classes: VGG16 convs 14,714,688 + features conv 4,719,616 +
classifier 205,000 = 19,639,304 (78.6 MB in float32; paper: 78 MB).
"""

from wsol_tf.models._lazy import keras
from wsol_tf.models.pretrained import KerasWeights
from wsol_tf.models.spec import BackboneSpec, BackboneWeights, register
from wsol_tf.models.taps import Taps

NAME = "vgg16gap"
BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
FEATURES_CHANNELS = 1024
POSITIONS = tuple(
    name
    for block, (_, convs) in enumerate(BLOCKS, start=1)
    for name in [f"block{block}_conv{j}" for j in range(1, convs + 1)]
    + ([f"block{block}_pool"] if block < len(BLOCKS) else [])
) + ("features",)
KERAS_WEIGHTS = KerasWeights(
    application="VGG16",
    file_name="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    origin="https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    file_hash="6d6bbae143d832006294945121d1f1fc",
)


def classifier_initializer():
    """Tensorpack's initializer of the new classifier (the head's Dense): N(0, 0.01)."""
    return keras.initializers.RandomNormal(stddev=0.01)


def build_features(inserter: Taps, image_size=(224, 224)):
    """Builds VGG16-GAP.

    Args:
        inserter: the method's taps (`Taps.after`) at the named positions.
        image_size: (h, w) of the input, each a multiple of 16 for an exact 1/16 map.

    Returns:
        The backbone `keras.Model` from RGB images in [0, 255] to its last
        layer "features" (1024 channels, 1/16 of the input);
        no head (the method adds it).
    """
    from wsol_tf.models.preprocessing import ImageNetPreprocessing  # imports keras

    inputs = keras.Input((image_size[0], image_size[1], 3), name="image")
    x = ImageNetPreprocessing("caffe", name="preprocess")(inputs)
    for block, (filters, convs) in enumerate(BLOCKS, start=1):
        for j in range(1, convs + 1):
            name = f"block{block}_conv{j}"
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)
            x = inserter.after(name, x)
        if block < len(BLOCKS):  # pool5 removed
            x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
            x = inserter.after(f"block{block}_pool", x)
    x = keras.layers.Conv2D(
        FEATURES_CHANNELS,
        3,
        padding="same",
        activation="relu",
        kernel_initializer="he_normal",
        name="features",
    )(x)
    x = inserter.after("features", x)
    inserter.check_all_inserted()
    return keras.Model(inputs, x, name=NAME)


def tensorpack_names(model):
    """{our layer name: [Tensorpack variable names in the layer's weight order]}."""
    names = {}
    for block, (_, convs) in enumerate(BLOCKS, start=1):
        for j in range(1, convs + 1):
            names[f"block{block}_conv{j}"] = [f"conv{block}_{j}/W", f"conv{block}_{j}/b"]
    return names


SPEC = register(
    BackboneSpec(
        name=NAME,
        build_features=build_features,
        positions=POSITIONS,
        default_positions=("block3_pool", "block4_pool", "block5_conv3"),  # paper, Table 2
        preprocessing="caffe",
        default_gamma=0.8,
        side_taps=("block4_pool", "block5_conv3"),  # wsolevaluation's VGG16 SPG
        feature_stride=16,
        weights=BackboneWeights(keras=KERAS_WEIGHTS, tensorpack_names=tensorpack_names),
        classifier_initializer=classifier_initializer,
    )
)
