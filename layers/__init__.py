"""Keras layers for weakly supervised object localization."""

from wsol_tf.layers.acol import ACoLHead
from wsol_tf.layers.adl import ADL
from wsol_tf.layers.eil import EILErasing
from wsol_tf.layers.heads import ClassifierHead
from wsol_tf.layers.rdap import RDAP
from wsol_tf.layers.rfga import RFGA
from wsol_tf.layers.spg import SPGHead

__all__ = ["ACoLHead", "ADL", "ClassifierHead", "EILErasing", "RDAP", "RFGA", "SPGHead"]
