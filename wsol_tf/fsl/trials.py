"""The FSL baseline's trials: what each trains, at which learning rate, for how long.

As a WSOL row of the method comparison gets two hyperparameter trials, so does FSL:

* ``head``: the 1x1 foreground head alone, on the frozen ImageNet backbone;
* ``head+last_stage``: the head and the backbone after its cut position (the second to last
  of the backbone spec's default method positions: efficientnet_lite0's ``block6d_add``, so
  block 7 and the top conv; tinyvgg's ``block3_pool``), at ``backbone_lr_factor`` x the lr.

The trial with the best MaxBoxAccV2 on the selection part wins. TensorFlow-free.
"""

from __future__ import annotations

import dataclasses
import math

TUNES = ("head", "last_stage")


@dataclasses.dataclass(frozen=True)
class Trial:
    """One FSL setting.

    Args:
        name: how metrics.json and the progress lines call it.
        tune: "head" (backbone frozen) or "last_stage" (head + the backbone after its cut).
        lr: Adam's learning rate of the head.
        epochs: passes over the head-training images (each image, or its mirror image).
        backbone_lr_factor: the backbone part's lr, a factor on ``lr`` ("last_stage" only).
        batch_size: images per step.
    """

    name: str
    tune: str = "head"
    lr: float = 1e-3
    epochs: int = 40
    backbone_lr_factor: float = 0.1
    batch_size: int = 16

    def validate(self):
        """ValueError naming the trial and the field."""
        where = f"FSL trial {self.name!r}"
        if self.tune not in TUNES:
            raise ValueError(f"{where}: tune={self.tune!r}; valid: {', '.join(TUNES)}.")
        for field in ("lr", "backbone_lr_factor"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{where}: {field}={value!r} must be a finite number > 0.")
        for field in ("epochs", "batch_size"):
            value = getattr(self, field)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f"{where}: {field}={value!r} must be an integer >= 1.")
        return self

    def to_dict(self):
        return dataclasses.asdict(self)


DEFAULT_TRIALS = (
    Trial("head", tune="head", lr=1e-2, epochs=60),
    Trial("head+last_stage", tune="last_stage", lr=1e-3, epochs=30, backbone_lr_factor=0.3),
)


def check_trials(trials):
    """The trials as a tuple, each validated, names distinct; ValueError naming the problem."""
    trials = tuple(trials)
    if not trials:
        raise ValueError("FSL needs at least one trial.")
    for trial in trials:
        if not isinstance(trial, Trial):
            raise ValueError(f"FSL trials must be Trial records; got {trial!r}")
        trial.validate()
    names = [t.name for t in trials]
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        raise ValueError(f"FSL trial name {twice[0]!r} is given twice.")
    return trials


def cut_position(backbone_spec):
    """The position after which "last_stage" trains the backbone: the second to last of the
    spec's default method positions; None when it has fewer than two."""
    positions = tuple(backbone_spec.default_positions)
    return positions[-2] if len(positions) >= 2 else None
