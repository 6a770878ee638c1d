"""What a backbone declares: one frozen `BackboneSpec`, registered in `BACKBONES`.

Each backbone module builds its feature extractor and ends with

    SPEC = register(BackboneSpec(name=..., build_features=..., positions=..., ...))

Everything the rest of the library knows about a backbone (positions a method may use and
its default ones, SPG's side-branch taps, which layers are new for the learning-rate groups,
the smallest input, the last strides it offers, where its ImageNet weights come from) is a
field of that spec; `wsol_tf.models.spec(name)` returns it.

Library code, no TensorFlow: specs are read while flags are checked (the builders import
Keras lazily, `models/_lazy.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from wsol_tf.registry import Registry

FEATURES_LAYER = "features"
CLASSIFIER_LAYER = "classifier"

BACKBONES = Registry("backbone", flag="--model", order=str)


@dataclasses.dataclass(frozen=True)
class BackboneWeights:
    """Where a backbone's ImageNet initialization comes from, and how its layers are named
    there (`wsol_tf.models.pretrained`). A backbone without any has `BackboneWeights()`.

    Args:
        keras: `KerasWeights`, the keras.applications no-top file (`--pretrained=imagenet`
            and `.h5` files).
        match_keras_layers: `fn(model, reference) -> {our layer name: keras layer}` when the
            keras.applications layers have no stable names (InceptionV3); None: by name.
        tensorpack: `TensorpackWeights`, the checkpoint `--pretrained=imagenet` downloads
            when there is no keras.applications file (ResNet50-SE).
        tensorpack_names: `fn(model) -> {our layer: [Tensorpack variable names]}`: `.npz`
            checkpoints load (VGG16-GAP, ResNet50-SE).
        torch: `TorchWeights`, the pip package whose `.pth` file is `--pretrained=imagenet`.
        torch_names: `fn(model) -> {our layer: [torch parameter names]}`: `.pth` files load.
        resolution: the input side the ImageNet weights were trained at (the ImageNet check,
            `wsol_tf.models.check_pretrained`).

    Example:
        BackboneWeights(keras=KerasWeights("VGG16", "vgg16_..._notop.h5", origin=...))
    """

    keras: object | None = None
    match_keras_layers: Callable | None = None
    tensorpack: object | None = None
    tensorpack_names: Callable | None = None
    torch: object | None = None
    torch_names: Callable | None = None
    resolution: int = 224


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """One backbone, as every part of the library sees it.

    Args:
        name: the registry name (`--model`); also the `WSOLModel`'s name.
        build_features: `fn(taps, image_size=(h, w), **options) -> keras.Model` from RGB
            images in [0, 255] to the layer named "features" (the CAM's map), no head;
            calls `taps.after(position, x)` after every position it offers.
        positions: every position a method may insert at, in graph order.
        default_positions: ADL's positions from the backbone's paper (the default of the
            methods that insert at positions).
        preprocessing: how the model normalizes its [0, 255] RGB input (an
            `ImageNetPreprocessing` mode, or "mean_std" for a `keras.layers.Normalization`).
        default_gamma: ADL's gamma from the backbone's paper.
        side_taps: SPG's default side-branch positions (B1, B2); () when the paper gives
            none (`--method=spg` then needs `--positions`).
        new_layer_prefixes: name prefixes of the layers `--lr_groups` trains as new.
        min_image_size: the smallest input side it builds (`--image_size` is checked).
        last_strides: the values `--last_stride` takes (the stride of the last strided
            conv; 1 doubles the map's side); () when it offers no such option.
        feature_stride: input side / map side at the default last stride; None when the
            map is not a whole fraction of the input (InceptionV3's VALID stem).
        weights: `BackboneWeights`, its ImageNet initialization.
        classifier_initializer: `fn() -> keras initializer` of the head's classifier
            kernel; None: the head's own.

    Example:
        SPEC = register(BackboneSpec(
            name="tinyvgg", build_features=build_features, positions=POSITIONS,
            default_positions=("block2_pool", "block3_pool", "block4_conv2"),
            preprocessing="mean_std", default_gamma=0.8, feature_stride=8,
        ))
    """

    name: str
    build_features: Callable
    positions: tuple[str, ...]
    default_positions: tuple[str, ...]
    preprocessing: str
    default_gamma: float = 0.9
    side_taps: tuple[str, ...] = ()
    new_layer_prefixes: tuple[str, ...] = (FEATURES_LAYER, CLASSIFIER_LAYER)
    min_image_size: int = 16
    last_strides: tuple[int, ...] = ()
    feature_stride: int | None = None
    weights: BackboneWeights = BackboneWeights()
    classifier_initializer: Callable | None = None

    def __post_init__(self):
        declared = set(self.positions)
        for field in ("default_positions", "side_taps"):
            unknown = [p for p in getattr(self, field) if p not in declared]
            if unknown:
                raise ValueError(f"{self.name}: {field} {unknown} are not among its positions.")
        if FEATURES_LAYER not in declared:
            raise ValueError(f"{self.name}: its positions must include {FEATURES_LAYER!r}.")

    def build_options(self, last_stride=None):
        """Keyword options of `build_features`: {} or {"last_stride": ...}; ValueError
        naming `--last_stride` and its valid values."""
        if last_stride is None:
            return {}
        if last_stride not in self.last_strides:
            valid = ", ".join(map(str, self.last_strides)) or f"none for --model={self.name}"
            raise ValueError(f"--last_stride={last_stride}: valid: {valid}.")
        return {"last_stride": last_stride}


def register(spec: BackboneSpec) -> BackboneSpec:
    """Adds `spec` to `BACKBONES` under its name; returns it."""
    return BACKBONES.add(spec.name, spec)
