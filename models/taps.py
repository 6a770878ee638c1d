"""Named positions of a backbone where a WSOL method inserts its layers.

A backbone builder calls `taps.after(name, x)` after each layer whose output is a valid
position. `Taps` hands `x` to the method's `insert` hook when `name` was chosen and passes it
through otherwise, so one builder serves every method and every set of positions.
"""


class Taps:
    """The chosen positions of one model, and the method that inserts there.

    Args:
        method: a `wsol_tf.methods.Method` (its `insert(position, x)` hook is called).
        positions: names of the positions to insert at.
        valid_positions: every position name the backbone offers, for checking.
        backbone: backbone name, for messages.
        outputs: positions whose tensors are recorded (`recorded`) as extra outputs.
    """

    def __init__(self, method, positions, valid_positions, backbone, outputs=()):
        positions = tuple(positions or ())
        outputs = tuple(outputs or ())
        unknown = [p for p in positions + outputs if p not in valid_positions]
        if unknown:
            raise ValueError(
                f"Unknown position {unknown[0]!r} for backbone {backbone!r}; valid positions: "
                f"{', '.join(valid_positions)}."
            )
        if len(set(positions)) != len(positions):
            raise ValueError(f"Positions {positions} name a position twice.")
        self.method = method
        self.positions = positions
        self.valid_positions = tuple(valid_positions)
        self.inserted = []
        self.outputs = outputs
        self.recorded = {}

    def after(self, name, x):
        """Returns x, or the method's insertion applied to x when `name` is a chosen position
        (and records the result when `name` is one of the method's tap outputs)."""
        if name not in self.valid_positions:
            raise AssertionError(f"Backbone offers {name!r} but does not declare it as a position.")
        if name in self.positions:
            self.inserted.append(name)
            x = self.method.insert(name, x)
        if name in self.outputs:
            self.recorded[name] = x
        return x

    def check_all_inserted(self):
        missing = [p for p in self.positions + self.outputs if p not in self.inserted
                   and p not in self.recorded]  # fmt: skip
        if missing:
            raise AssertionError(f"Positions {missing} were declared but never reached.")
