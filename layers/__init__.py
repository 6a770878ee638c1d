"""Keras layers for weakly supervised object localization."""

from wsol_tf.layers.adl import ADL
from wsol_tf.layers.eil import EILErasing
from wsol_tf.layers.heads import ClassifierHead
from wsol_tf.layers.rdap import RDAP
from wsol_tf.layers.rfga import RFGA

__all__ = ["ADL", "ClassifierHead", "EILErasing", "RDAP", "RFGA"]
