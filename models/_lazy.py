"""`keras` for the backbone modules, imported on first use.

Listing backbones and reading their positions (what flag validation needs) must not import
TensorFlow, which takes seconds: the backbone modules write `keras.layers.Conv2D(...)` as
usual, and Keras is imported the first time a model is actually built.
"""

import importlib


class LazyModule:
    """A module imported on the first attribute access."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self):
        return f"<lazy module {self._name!r}>"


keras = LazyModule("keras")
