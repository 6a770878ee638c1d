"""RFGA (Sohn et al., arXiv 2104.04952, 2021): Residual Fine-Grained Attention.

**An interpretation**: the paper is known here by its abstract only (seed 002) and no code
was published. The module (`wsol_tf.layers.RFGA`, whose docstring spells out each choice)
computes element-wise attention from three views of the feature map (channel, height,
width: means followed by small 1-D convolutions), expands them to the feature map's shape,
and recalibrates the features through a residual connection, `F + scale * F * A`, with the
per-channel scale initialized to 0 (the identity at initialization).

Choices (flags):
- kernel size [--rfga_kernel_size]: 3, the views' 1-D convolution length (ECA's smallest).
- positions [--positions]: the abstract does not say where the module goes; the default is
  the backbone's ADL positions (VGG: after pool3, pool4 and conv5_3), where a feature-map
  module helps WSOL in ADL's Table 2.
- learning rate: its layers ("rfga_*") are new layers (`new_layer_prefixes`), so with a
  pretrained backbone they train at the new layers' rate (--lr_groups).
RFGA acts at training and inference; the CAM is the head's classic CAM of the recalibrated
feature map. Parameters: 9C + 3 per position with C channels (kernel size 3).
"""

import dataclasses

from wsol_tf.methods import register
from wsol_tf.methods.base import Method, check, param


@dataclasses.dataclass(frozen=True)
class RFGAParams:
    kernel_size: int = param(3, "RFGA length of the views' 1-D convolutions (odd).")

    def validate(self, method_name):
        k = self.kernel_size
        check(isinstance(k, int) and k >= 1 and k % 2 == 1, "rfga_kernel_size", k,
              "an odd integer >= 1")  # fmt: skip
        return self


@register
class RFGA(Method):
    name = "rfga"
    Params = RFGAParams
    uses_positions = True
    new_layer_prefixes = ("rfga_",)
    reference = "Sohn et al., Residual Fine-Grained Attention for WSOL, arXiv 2104.04952, 2021"

    def insert(self, position, x):
        from wsol_tf.layers import RFGA as RFGALayer

        return RFGALayer(kernel_size=self.params.kernel_size, name=f"rfga_{position}")(x)
