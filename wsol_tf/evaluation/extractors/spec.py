"""What names an extractor and its options, without TensorFlow: the `--cam` registry and
`CamSpec`, the frozen dataclass whose fields are the `--cam_*` flags.

Flags are checked before TensorFlow loads (a typo costs a second), so this module and the
extractor modules import TensorFlow only inside their functions.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

from wsol_tf.registry import Registry

# The default extractor first (as `--method=cam` among methods), then alphabetical.
EXTRACTORS = Registry("extractor", flag="--cam", order=lambda name: (name != "classic", name))
ALIASES = {"cam": "classic"}  # `--cam=cam` in earlier commands
SMOOTHING = ("none", "tta")


@dataclasses.dataclass(frozen=True)
class Extractor:
    """A registered extractor: `fn(model, images, classes, spec) -> (logits, maps)`.

    `uses_layers`: whether `--cam_layers` applies (classic CAM reads the head's weights,
    which only apply to the feature map). `describe`: the spec's options that matter to this
    extractor only, as text parts of `CamSpec.describe` (Score-CAM's channel cap).
    """

    name: str
    fn: Callable
    uses_layers: bool = True
    describe: Callable | None = None

    def __call__(self, model, images, classes, spec=None):
        return self.fn(model, images, classes, spec=DEFAULT_SPEC if spec is None else spec)


def register(name, uses_layers=True, describe=None):
    """Decorator: registers `fn(model, images, classes, spec)` as extractor `name`; returns
    `fn` unchanged."""

    def decorate(fn):
        EXTRACTORS.add(name, Extractor(name, fn, uses_layers, describe))
        return fn

    return decorate


def names() -> tuple[str, ...]:
    """Extractor names for `--cam`, aliases last."""
    return (*EXTRACTORS.names(), *ALIASES)


def canonical_name(name) -> str:
    """`name` with aliases resolved; ValueError listing the valid names."""
    canonical = ALIASES.get(name, name)
    if canonical not in EXTRACTORS:
        raise ValueError(f"cam={name!r}: valid choices are {', '.join(names())}")
    return canonical


def get(name) -> Extractor:
    """The extractor called `name` (or an alias), callable as its function."""
    return EXTRACTORS.get(canonical_name(name))


def uses_layers() -> tuple[str, ...]:
    """The extractors that take `--cam_layers`."""
    return tuple(n for n, e in EXTRACTORS.items() if e.uses_layers)


def _field(default, help, flag):  # noqa: A002 - absl's word
    return dataclasses.field(default=default, metadata={"help": help, "flag": flag})


@dataclasses.dataclass(frozen=True)
class CamSpec:
    """Which extractor and its options: what `--cam` and its companion flags describe.

    Every caller that wants a map (`ScoreMapper`, `evaluation.evaluate`, `localize`,
    `export` and the SavedModel) takes a `cam` that is a name or a `CamSpec` and turns it
    into one function with `build`; nothing else computes a map.
    """

    name: str = _field("classic", "Score-map extractor.", "cam")
    layers: tuple[str, ...] = _field(
        (),
        "Backbone layers to compute the map at (default: the feature map); two or more are "
        "fused as Layer-CAM does. Not for classic CAM.",
        "cam_layers",
    )
    smooth: str = _field(
        "none", "Test-time smoothing: none, or tta (flips x zooms, averaged).", "cam_smooth"
    )
    tta_scales: tuple[float, ...] = _field(
        (0.75, 1.0, 1.25),
        "Zooms of --cam_smooth=tta (each with and without a horizontal flip; 1 is always in).",
        "cam_tta_scales",
    )
    scorecam_batch_size: int = _field(
        32, "Masked images per forward pass of Score-CAM.", "scorecam_batch_size"
    )
    scorecam_max_channels: int = _field(
        64,
        "Channels Score-CAM scores per layer (largest spatial variance first; 0: all).",
        "scorecam_max_channels",
    )

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("name", ALIASES.get(self.name, self.name))
        layers = self.layers
        if isinstance(layers, str):
            layers = [s for s in layers.split(",") if s.strip()]
        set_("layers", tuple(str(s).strip() for s in layers))
        scales = self.tta_scales
        if isinstance(scales, str):
            scales = [s for s in scales.split(",") if s.strip()]
        try:
            set_("tta_scales", tuple(float(s) for s in scales))
        except (TypeError, ValueError):
            raise ValueError(
                f"--cam_tta_scales={self.tta_scales!r} is invalid: must be numbers."
            ) from None

    def validate(self) -> CamSpec:
        """Self, or ValueError naming the flag at fault."""
        if self.name not in EXTRACTORS:
            raise ValueError(
                f"--cam={self.name} is invalid: valid choices are {', '.join(names())}."
            )
        if self.smooth not in SMOOTHING:
            raise ValueError(f"--cam_smooth={self.smooth} is invalid: must be one of {SMOOTHING}.")
        if self.layers and not EXTRACTORS.get(self.name).uses_layers:
            raise ValueError(
                f"--cam_layers={','.join(self.layers)} is invalid with --cam={self.name}: its map "
                "comes from the head's weights on the feature map; use one of "
                f"{', '.join(sorted(uses_layers()))}."
            )
        if any(not s for s in self.layers) or len(set(self.layers)) != len(self.layers):
            raise ValueError(
                f"--cam_layers={','.join(self.layers)} is invalid: names must be distinct and "
                "non-empty."
            )
        if not self.tta_scales or any(not (math.isfinite(s) and s > 0) for s in self.tta_scales):
            raise ValueError(
                f"--cam_tta_scales={','.join(map(str, self.tta_scales))} is invalid: must be "
                "positive numbers."
            )
        for flag, value, low in (
            ("scorecam_batch_size", self.scorecam_batch_size, 1),
            ("scorecam_max_channels", self.scorecam_max_channels, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"--{flag}={value} is invalid: must be an integer >= {low}.")
        return self

    def describe(self) -> str:
        """`name`, plus the options that matter to it and differ from the defaults (those of
        one extractor only come from its `describe`)."""
        parts = []
        if self.layers:
            parts.append("layers=" + ",".join(self.layers))
        if self.smooth != "none":
            parts.append(f"smooth={self.smooth}({','.join(f'{s:g}' for s in self.tta_scales)})")
        own = EXTRACTORS.get(self.name).describe if self.name in EXTRACTORS else None
        if own is not None:
            parts.extend(own(self))
        return f"{self.name}({'; '.join(parts)})" if parts else self.name

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def flag_fields(cls):
        """(flag name, field) of every option, for the commands' flags."""
        return [(f.metadata["flag"], f) for f in dataclasses.fields(cls)]

    @classmethod
    def from_flags(cls, values: dict) -> CamSpec:
        """A validated spec from {flag name: value} (`cam`, `cam_layers`, ...)."""
        by_flag = {flag: f.name for flag, f in cls.flag_fields()}
        unknown = sorted(set(values) - set(by_flag))
        if unknown:
            raise ValueError(f"unknown extractor option --{unknown[0]}")
        kwargs = {by_flag[k]: v for k, v in values.items() if v is not None}
        return cls(**kwargs).validate()


DEFAULT_SPEC = CamSpec()


def resolve(cam) -> CamSpec:
    """A validated `CamSpec` from a name, a spec, a dict of its fields, or None (classic)."""
    if cam is None:
        spec = CamSpec()
    elif isinstance(cam, CamSpec):
        spec = cam
    elif isinstance(cam, dict):
        spec = CamSpec(**cam)
    elif isinstance(cam, str):
        canonical_name(cam)
        spec = CamSpec(name=cam)
    else:
        raise TypeError(f"cam must be a name or a CamSpec; got {type(cam).__name__}")
    return spec.validate()
