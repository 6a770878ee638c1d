"""Keras layers for weakly supervised object localization."""

from wsol_tf.layers.adl import ADL

__all__ = ["ADL"]
