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

    def __init__(self, backbone, head, method, num_classes, **kwargs):
        kwargs.setdefault("name", backbone.name)
        super().__init__(**kwargs)
        self.backbone = backbone
        self.head = head
        self.num_classes = int(num_classes)
        object.__setattr__(self, "method", method)  # plain attribute: no tracking
        head.build(tuple(backbone.output.shape))
        self.built = True

    @property
    def image_size(self):
        """(h, w) of the input."""
        return tuple(int(s) for s in self.backbone.input.shape[1:3])

    def call(self, images, training=None):
        features = self.backbone(images, training=training)
        return {"features": features, **self.head(features, training=training)}

    def logits(self, images, training=False):
        return self(images, training=training)["logits"]

    def get_layer(self, name=None, index=None):
        """A layer of the backbone or of the head by name (the backbone's names come first)."""
        for container in (self.backbone, self.head):
            for layer in container._flatten_layers(include_self=True):
                if layer.name == name:
                    return layer
        return super().get_layer(name, index)
