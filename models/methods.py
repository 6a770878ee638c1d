"""WSOL methods inserted at named layer positions of a backbone.

A backbone builder calls `inserter.after(name, x)` after each layer whose
output is a valid insertion position. The inserter adds the method's layer
there when `name` was asked for and otherwise passes `x` through, so one
builder serves every method and every set of positions.
"""

from wsol_tf.layers import ADL

METHODS = ("cam", "adl")
# The paper's Table 1 ablation: which ADL components run; a deactivated one passes the
# feature map through unchanged. Values: (use_drop_mask, use_importance_map).
ADL_VARIANTS = {
    "both": (True, True),
    "drop_mask_only": (True, False),
    "importance_map_only": (False, True),
}


class MethodInserter:
    """Inserts a WSOL method's layers after named positions.

    Args:
        method: "cam" (vanilla CAM: nothing inserted) or "adl".
        positions: names of the positions to insert at (ignored for "cam").
        valid_positions: every position name the backbone offers, for checking.
        backbone: backbone name, for messages.
        drop_rate: ADL drop_rate.
        gamma: ADL gamma.
        seed: int or None; each ADL layer gets seed + its order of insertion.
        adl_variant: one of `ADL_VARIANTS` ("both" is ADL; the others are the
            paper's Table 1 ablations).
    """

    def __init__(
        self,
        method,
        positions,
        valid_positions,
        backbone,
        drop_rate=0.75,
        gamma=0.9,
        seed=None,
        adl_variant="both",
    ):
        if method not in METHODS:
            raise ValueError(f"Unknown method={method!r}; valid methods: {', '.join(METHODS)}.")
        positions = tuple(positions or ())
        unknown = [p for p in positions if p not in valid_positions]
        if unknown:
            raise ValueError(
                f"Unknown position {unknown[0]!r} for backbone {backbone!r}; valid positions: "
                f"{', '.join(valid_positions)}."
            )
        if adl_variant not in ADL_VARIANTS:
            raise ValueError(
                f"Unknown adl_variant={adl_variant!r}; valid: {', '.join(ADL_VARIANTS)}."
            )
        if len(set(positions)) != len(positions):
            raise ValueError(f"Positions {positions} name a position twice.")
        self.method = method
        self.positions = positions if method != "cam" else ()
        self.valid_positions = tuple(valid_positions)
        self.drop_rate = drop_rate
        self.gamma = gamma
        self.seed = seed
        self.adl_variant = adl_variant
        self.inserted = []

    def after(self, name, x):
        """Returns x, or the method's layer applied to x when `name` is a chosen position."""
        if name not in self.valid_positions:
            raise AssertionError(f"Backbone offers {name!r} but does not declare it as a position.")
        if name not in self.positions:
            return x
        seed = None if self.seed is None else self.seed + len(self.inserted)
        use_drop_mask, use_importance_map = ADL_VARIANTS[self.adl_variant]
        layer = ADL(
            drop_rate=self.drop_rate,
            gamma=self.gamma,
            seed=seed,
            use_drop_mask=use_drop_mask,
            use_importance_map=use_importance_map,
            name=f"adl_{name}",
        )
        self.inserted.append(name)
        return layer(x)

    def check_all_inserted(self):
        missing = [p for p in self.positions if p not in self.inserted]
        if missing:
            raise AssertionError(f"Positions {missing} were declared but never reached.")
