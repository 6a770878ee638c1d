"""Every layer inside a Keras model, nested ones included.

Keras 3 has no public recursive walk (`Model.layers` lists direct children only), so this is
the one place that uses its private `Layer._flatten_layers`: a Keras change breaks here
only. The order is Keras' own (breadth-first from the model, each layer's sublayers pushed
to the front of the queue); the L2 weight-decay sum and the batch-norm sync iterate it, so
another order would move the numbers.
"""


def all_layers(model, include_self=True):
    """`model` (unless `include_self` is False) and every layer nested in it, each once."""
    return model._flatten_layers(include_self=include_self)


def sublayers(layer):
    """The layers directly inside `layer` ([] for a leaf layer such as Conv2D)."""
    return layer._flatten_layers(include_self=False, recursive=False)
