"""RDAP (Pattern Recognition 2021): Region-based Dropout with Attention Prior.

Definition (seed 003): like ADL, RDAP finds the most discriminative location from the
self-attention (the channel-mean map); unlike ADL it hides it with a **fixed-size square**
mask (`wsol_tf.layers.RDAP`). Training only; the identity at inference; no weights.

The seed gives neither the square's size nor how often it is applied; choices (flags):
- size [--rdap_size]: a fraction of the feature map's shorter side (default 0.5), not a
  number of cells, so one value means the same share of the image at every position,
  backbone and input size; the side is `max(1, round_half_up(size * min(H, W)))` cells,
  centred on the arg-max and clipped at the borders. 0.5 is Cutout's best on CIFAR-10
  (a 16-pixel square on 32-pixel images), the closest published fixed-square dropping.
- probability [--rdap_probability]: the chance that a training step drops (default 0.75),
  otherwise the features pass unchanged; one draw per mini-batch and replica, ADL's
  convention (RDAP is ADL's successor by the same group: same draw, same positions).
- positions [--positions]: the backbone's ADL positions (VGG: pool3, pool4, conv5_3).
"""

import dataclasses

from wsol_tf.methods import register
from wsol_tf.methods.base import Method, check, check_probability, param


@dataclasses.dataclass(frozen=True)
class RDAPParams:
    size: float = param(
        0.5, "RDAP square side as a fraction of the feature map's shorter side, in (0, 1]."
    )
    probability: float = param(0.75, "RDAP chance that a training step drops the square.")

    def validate(self, method_name):
        check(isinstance(self.size, int | float) and 0.0 < self.size <= 1.0, "rdap_size",
              self.size, "in (0, 1]")  # fmt: skip
        check_probability("rdap_probability", self.probability)
        return self


@register
class RDAP(Method):
    name = "rdap"
    Params = RDAPParams
    uses_positions = True
    reference = "Region-based Dropout with Attention Prior for WSOL, Pattern Recognition 2021"

    def __init__(self, params=None, *, backbone=None, positions=None, seed=None):
        super().__init__(params, backbone=backbone, positions=positions, seed=seed)
        self._inserted = 0

    def insert(self, position, x):
        from wsol_tf.layers import RDAP as RDAPLayer

        # Each layer its own seed, in order of insertion, so their draws are independent.
        seed = None if self.seed is None else self.seed + self._inserted
        self._inserted += 1
        layer = RDAPLayer(
            size=self.params.size,
            probability=self.params.probability,
            seed=seed,
            name=f"rdap_{position}",
        )
        return layer(x)
