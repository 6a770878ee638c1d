"""The WSOL model: a backbone feature extractor and a method's head, returning named outputs."""

import keras


class WSOLModel(keras.Model):
    """Images -> dict of named outputs: "features" (the CAM's feature map), "logits", plus
    whatever the method's head adds.

    Args:
        backbone: functional `keras.Model` from RGB images in [0, 255] to the feature map,
            with the method's layers at their positions (`wsol_tf.models.build_backbone`).
        head: the method's head layer (`Method.build_head`); its call returns a dict with
            at least "logits" and it has `class_maps(features, classes)`.
        method: the `wsol_tf.methods.Method` instance that built them (its hooks drive
            training and score maps; not a tracked object).
        num_classes: classifier size.
        **kwargs: standard `keras.Model` arguments.
    """

    def __init__(self, backbone, head, method, num_classes, tap_names=(), **kwargs):
        kwargs.setdefault("name", backbone.name)
        super().__init__(**kwargs)
        self.backbone = backbone
        self.head = head
        self.num_classes = int(num_classes)
        self.tap_names = tuple(tap_names)
        object.__setattr__(self, "method", method)  # plain attribute: no tracking
        features_shape = backbone.outputs[0].shape
        if self.tap_names:
            outputs = zip(self.tap_names, backbone.outputs[1:], strict=True)
            shapes = {n: tuple(t.shape) for n, t in outputs}
            head.build(tuple(features_shape), taps=shapes)
        else:
            head.build(tuple(features_shape))
        self.built = True

    @property
    def image_size(self):
        """(h, w) of the input."""
        return tuple(int(s) for s in self.backbone.input.shape[1:3])

    def features_and_taps(self, images, training=None):
        """(feature map, {position: tensor} of the method's tap outputs)."""
        outputs = self.backbone(images, training=training)
        if not self.tap_names:
            return outputs, {}
        return outputs[0], dict(zip(self.tap_names, outputs[1:], strict=True))

    def call(self, images, training=None):
        features, taps = self.features_and_taps(images, training=training)
        if not taps:
            return {"features": features, **self.head(features, training=training)}
        head = self.head(features, training=training, taps=taps)
        return {"features": features, "taps": taps, **head}

    def logits(self, images, training=False):
        return self(images, training=training)["logits"]

    def get_layer(self, name=None, index=None):
        """A layer of the backbone or of the head by name (the backbone's names come first)."""
        for container in (self.backbone, self.head):
            for layer in container._flatten_layers(include_self=True):
                if layer.name == name:
                    return layer
        return super().get_layer(name, index)
