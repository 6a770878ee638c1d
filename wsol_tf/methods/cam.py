"""Vanilla CAM (Zhou et al., CVPR 2016): the backbone, GAP and a linear classifier trained
with cross-entropy; the class activation map is the classifier's weighted sum of the
feature map. Every hook of the seam keeps its default.
"""

from wsol_tf.methods import register
from wsol_tf.methods.base import Method


@register
class CAM(Method):
    name = "cam"
    reference = "Zhou et al., Learning Deep Features for Discriminative Localization, CVPR 2016"
