"""Keras layers for weakly supervised object localization."""

from wsol_tf.layers.acol import ACoLHead
from wsol_tf.layers.adl import ADL
from wsol_tf.layers.heads import ClassifierHead
from wsol_tf.layers.spg import SPGHead

__all__ = ["ACoLHead", "ADL", "ClassifierHead", "SPGHead"]
