"""ADL (Choe & Shim, CVPR 2019): an Attention-based Dropout Layer after named positions.

Training only: one draw per mini-batch (and replica) picks the drop mask (probability
`drop_rate`) or the importance map; identity at inference, no weights (`wsol_tf.layers.ADL`).
Tensorpack passes keep_prob=0.25; we take drop_rate=0.75. gamma defaults to the backbone's
paper value (VGG 0.8, ResNet 0.9, MobileNetV1 0.95). `variant` runs the paper's Table 1
ablations: "drop_mask_only" or "importance_map_only" (the other branch is the identity).
"""

import dataclasses

from wsol_tf.methods import register
from wsol_tf.methods.base import Method, check, check_probability, param

# (use_drop_mask, use_importance_map) per variant.
VARIANTS = {
    "both": (True, True),
    "drop_mask_only": (True, False),
    "importance_map_only": (False, True),
}


@dataclasses.dataclass(frozen=True)
class ADLParams:
    drop_rate: float = param(
        0.75, "ADL drop_rate (Tensorpack keep_prob = 1 - drop_rate).", flag="drop_rate"
    )
    gamma: float | None = param(
        None, "ADL gamma; default: the backbone's paper value.", flag="gamma"
    )
    variant: str = param(
        "both",
        "ADL components (paper Table 1): both, or one with the other branch the identity.",
        flag="adl_variant",
        choices=tuple(VARIANTS),
    )

    def validate(self, method_name):
        check_probability("drop_rate", self.drop_rate)
        if self.gamma is not None:
            check(
                isinstance(self.gamma, int | float) and 0.0 < self.gamma <= 1.0,
                "gamma", self.gamma, "in (0, 1]",
            )  # fmt: skip
        if self.variant not in VARIANTS:
            raise ValueError(f"Unknown adl_variant={self.variant!r}; valid: {', '.join(VARIANTS)}.")
        return self


@register
class ADL(Method):
    name = "adl"
    Params = ADLParams
    uses_positions = True
    reference = "Choe & Shim, Attention-based Dropout Layer for WSOL, CVPR 2019"

    def __init__(self, params=None, *, backbone=None, positions=None, seed=None):
        super().__init__(params, backbone=backbone, positions=positions, seed=seed)
        self.gamma = self.params.gamma
        if self.gamma is None:
            self.gamma = 0.9 if backbone is None else backbone.default_gamma
        self._inserted = 0

    def describe(self):
        p = self.params
        variant = "" if p.variant == "both" else f", {p.variant}"
        return (
            f"adl (drop_rate {p.drop_rate}, gamma {self.gamma}{variant}, positions "
            f"{','.join(self.positions)})"
        )

    def insert(self, position, x):
        from wsol_tf.layers import ADL as ADLLayer

        # Each layer its own seed, in order of insertion, so their draws are independent.
        seed = None if self.seed is None else self.seed + self._inserted
        self._inserted += 1
        use_drop_mask, use_importance_map = VARIANTS[self.params.variant]
        layer = ADLLayer(
            drop_rate=self.params.drop_rate,
            gamma=self.gamma,
            seed=seed,
            use_drop_mask=use_drop_mask,
            use_importance_map=use_importance_map,
            name=f"adl_{position}",
        )
        return layer(x)
