"""The WSOL model: a backbone feature extractor and a method's head, returning named outputs."""

import keras

from wsol_tf.models.layer_walk import all_layers


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

    def layer_names(self) -> tuple[str, ...]:
        """Names of the backbone's layers, input first (what `--cam_layers` may name)."""
        return tuple(layer.name for layer in self.backbone.layers)

    def layers_model(self, names):
        """Functional model: images -> [each named backbone layer's output, *backbone outputs]
        (built once per list of names; the same weights, so gradients reach those tensors)."""
        names = tuple(names)
        cache = self.__dict__.setdefault("_layers_models", {})  # plain dict: not tracked
        if names not in cache:
            known = set(self.layer_names())
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(
                    f"--cam_layers: {unknown[0]!r} is not a layer of the {self.backbone.name} "
                    f"backbone; its layers: {', '.join(self.layer_names()[1:])}."
                )
            outputs = [self.backbone.get_layer(n).output for n in names]
            cache[names] = keras.Model(self.backbone.input, [*outputs, *self.backbone.outputs])
        return cache[names]

    def call_with_layers(self, images, names, training=False):
        """(the call's dict of outputs, [the output of each named backbone layer]) from one
        forward pass; the logits depend on those tensors, so a tape can differentiate to them."""
        names = tuple(names)
        results = self.layers_model(names)(images, training=training)
        layers, rest = list(results[: len(names)]), list(results[len(names) :])
        features, taps = rest[0], dict(zip(self.tap_names, rest[1:], strict=True))
        if not taps:
            return {"features": features, **self.head(features, training=training)}, layers
        head = self.head(features, training=training, taps=taps)
        return {"features": features, "taps": taps, **head}, layers

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
            for layer in all_layers(container):
                if layer.name == name:
                    return layer
        return super().get_layer(name, index)
