"""Copying arrays into a model's layers by name, refusing a shape mismatch: the last step of
every pretrained source (keras.applications .h5, Tensorpack .npz, torch .pth)."""


def assign_weights(model, arrays_by_layer, source):
    """Sets each named layer's weights from `arrays_by_layer` {layer name: [arrays]};
    ValueError naming `source` and the layer when the shapes differ. Returns the names."""
    for name, arrays in arrays_by_layer.items():
        layer = model.get_layer(name)
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(a.shape) for a in arrays]
        if expected != found:
            raise ValueError(
                f"{source}: layer {name!r} needs weights of shapes {expected}; the file has "
                f"{found}. Is it the right backbone's file?"
            )
        layer.set_weights(arrays)
    return list(arrays_by_layer)
