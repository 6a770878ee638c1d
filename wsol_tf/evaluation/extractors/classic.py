"""CAM (Zhou et al. 2016): the head's class activation map of class c; for GAP + Dense,
sum_k w[k, c] A_k on the feature map (the head's `class_maps`, so a method's own head, as
ACoL's two branches, gives its own map). Reads the head's weights, so no `--cam_layers`."""

from wsol_tf.evaluation.extractors.base import target_classes
from wsol_tf.evaluation.extractors.spec import register


@register("classic", uses_layers=False)
def classic(model, images, classes, spec):
    outputs = model(images, training=False)
    classes = target_classes(outputs["logits"], classes)
    return outputs["logits"], model.head.class_maps(outputs["features"], classes)
