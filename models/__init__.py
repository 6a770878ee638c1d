"""WSOL models: a backbone by name, a method's layers at named positions, the method's head.

`build(name, num_classes, method=...)` returns a `WSOLModel` whose call gives a dict of named
outputs ("features", "logits", and whatever the method's head adds). Each backbone module
(`BACKBONES`) has `build_features(taps, image_size)` (images -> feature map, no head),
POSITIONS, DEFAULT_POSITIONS, DEFAULT_GAMMA, and for ImageNet initialization KERAS_WEIGHTS
(keras.applications file) and/or tensorpack_names, or TORCH_WEIGHTS (a pip package's .pth)
and torch_names; optionally LAST_STRIDES.
"""

from wsol_tf import methods
from wsol_tf.data.sizes import as_hw
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
from wsol_tf.models.pretrained import (
    PretrainedReport,
    PretrainedWeightsUnavailable,
    load_pretrained,
    new_layer_names,
    pretrained_layer_names,
    pretrained_report,
    split_trainable_variables,
)
from wsol_tf.models.taps import Taps
from wsol_tf.models.torch_weights import TorchWeightsError

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


def backbone_options(name, last_stride=None):
    """Keyword options of `build_features` (last_stride for backbones that offer it)."""
    if last_stride is None:
        return {}
    strides = getattr(backbone_module(name), "LAST_STRIDES", None)
    if strides is None or last_stride not in strides:
        valid = ", ".join(map(str, strides)) if strides else f"none for --model={name}"
        raise ValueError(f"--last_stride={last_stride}: valid: {valid}.")
    return {"last_stride": last_stride}


def build_backbone(name, method, image_size=224, last_stride=None):
    """The backbone of `name` as a functional `keras.Model` (images -> feature map) with
    `method`'s insertions at its positions."""
    import keras

    module = backbone_module(name)
    options = backbone_options(name, last_stride)
    taps = Taps(method, method.positions, module.POSITIONS, name, method.tap_outputs(module))
    backbone = module.build_features(taps, image_size=as_hw(image_size), **options)
    taps.check_all_inserted()
    if taps.outputs:  # the same graph, also returning the recorded tensors
        outputs = [backbone.output] + [taps.recorded[n] for n in taps.outputs]
        backbone = keras.Model(backbone.input, outputs, name=backbone.name)
    return backbone


def build(
    name,
    num_classes,
    method="cam",
    positions=None,
    pretrained=None,
    image_size=224,
    seed=None,
    last_stride=None,
    **method_params,
):
    """Builds a WSOL model: backbone, the method's layers at named positions, its head.

    Args:
        name: backbone name, one of `BACKBONES`.
        num_classes: classifier size.
        method: a method name (`wsol_tf.methods.names()`) or a `Method` instance.
        positions: position names for the method's insertions; None means the method's
            defaults for this backbone (the backbone's paper positions for ADL).
        pretrained: None (random init), "imagenet" (keras.applications weights,
            from the Keras cache or downloaded; fails fast offline), a keras
            .h5 weights file, or a Tensorpack .npz checkpoint (vgg16gap,
            resnet50se). See `wsol_tf.models.pretrained`; afterwards
            `pretrained_layer_names(model)` / `split_trainable_variables(model)`
            tell pretrained from new layers.
        image_size: int or (h, w) of the input.
        seed: seed of the method's random draws.
        last_stride: None (the backbone's own), or the stride of the backbone's last strided
            conv for backbones that offer it (`LAST_STRIDES`; 1 doubles the map's size).
        **method_params: the method's hyperparameters by field or flag name (e.g. ADL's
            drop_rate=0.75, gamma=0.8, adl_variant="both").

    Returns:
        `WSOLModel` from RGB images in [0, 255] to {"features", "logits", ...}; its
        `backbone` has a layer named `FEATURES_LAYER` and its head a Dense named
        `CLASSIFIER_LAYER`.
    """
    from wsol_tf.models.wsol_model import WSOLModel

    module = backbone_module(name)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got num_classes={num_classes}.")
    if isinstance(method, str):
        cls = methods.get(method)
        params = methods.params_from_settings(cls, method_params)
        method = cls(params, backbone=module, positions=positions, seed=seed)
    elif method_params or positions is not None:
        raise ValueError("pass positions and parameters to the Method instance, not to build()")
    # Through the module: `wsol_tf.models.check_pretrained` is also the ImageNet check's CLI.
    _pretrained.check_pretrained(module, pretrained)  # before building: bad flags fail fast
    backbone = build_backbone(name, method, image_size, last_stride)
    initializer = getattr(module, "classifier_initializer", None)
    head = method.build_head(num_classes, initializer() if initializer else None)
    model = WSOLModel(
        backbone, head, method, num_classes, method.tap_outputs(module), name=module.NAME
    )
    load_pretrained(model, module, pretrained)
    return model


def classifier_kernel(model):
    """The head classifier's (K, C) kernel as numpy."""
    import keras

    return keras.ops.convert_to_numpy(model.get_layer(CLASSIFIER_LAYER).kernel)


__all__ = [
    "BACKBONES",
    "PretrainedReport",
    "PretrainedWeightsUnavailable",
    "TorchWeightsError",
    "build",
    "build_backbone",
    "classifier_kernel",
    "new_layer_names",
    "pretrained_layer_names",
    "pretrained_report",
    "split_trainable_variables",
]
