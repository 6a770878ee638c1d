"""The method seam: everything a WSOL method changes, as the hooks of one class.

A method is one subclass of `Method` in one module of `wsol_tf.methods`, registered by name
with `@register`. The training loop, the evaluator, the TensorBoard pictures, `localize`
and the exported SavedModel only call these hooks; none of them knows a method by name.

    hook            default (vanilla CAM)                      overridden by
    insert          identity at every chosen position          ADL, RDAP, RFGA, EIL's marker
    build_head      GAP + Dense "classifier" (`ClassifierHead`) ACoL, SPG
    augment         the batch unchanged                         HaS, CutMix
    forward         model(images) -> dict of named outputs      EIL (upper network twice)
    loss            cross-entropy on outputs["logits"]          CutMix, ACoL, SPG, EIL
    score_maps      the extractor's maps (classic CAM ...)      methods with their own maps

A method's hyperparameters are a small frozen dataclass, `Params`, whose fields become
`python -m wsol_tf.train` flags (named `<method>_<field>` unless a field's metadata names
its flag) and are validated in `Params.validate`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar


def param(default, help, flag=None, choices=None, **metadata):  # noqa: A002 - absl's word
    """A `Params` field with its flag help (and optional flag name and choices)."""
    meta = {"help": help, "flag": flag, "choices": choices, **metadata}
    if isinstance(default, list | dict | set):
        raise TypeError("mutable defaults are not allowed in method params; use a tuple")
    return dataclasses.field(default=default, metadata=meta)


def check(ok, flag, value, expected):
    """ValueError naming the flag when `ok` is false."""
    if not ok:
        raise ValueError(f"--{flag}={value} is invalid: must be {expected}.")


def check_probability(flag, value):
    check(isinstance(value, int | float) and 0.0 <= value <= 1.0, flag, value, "in [0, 1]")


def check_finite(flag, value):
    check(isinstance(value, int | float) and math.isfinite(value), flag, value, "a finite number")


@dataclasses.dataclass(frozen=True)
class NoParams:
    """A method without hyperparameters."""

    def validate(self, method_name):
        return self


class Method:
    """A WSOL method: hooks with do-nothing defaults; a subclass overrides what it changes.

    Class attributes:
        name: the registry name (`--method`).
        Params: frozen dataclass of the hyperparameters (`NoParams` when none).
        uses_positions: whether the method inserts something at named backbone positions
            (`--positions`); the default positions are `default_positions(backbone)`.
        reference: the paper, for docs and reports.
        new_layer_prefixes: name prefixes of the method's own layers with weights (RFGA's
            "rfga_"): the learning-rate groups (`--lr_groups`) treat them as new layers,
            like the backbone's head, never as pretrained ones.

    Args:
        params: a `Params` instance (validated here).
        backbone: the backbone's `BackboneSpec` (`wsol_tf.models.spec(name)`), or None: its
            default_positions, default_gamma, side_taps give the per-backbone defaults.
        positions: chosen positions (None: `default_positions(backbone)`); ignored when the
            method inserts nothing.
        seed: int or None, seed of the method's random draws (layers and batch augmentation).
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    uses_positions: ClassVar[bool] = False
    reference: ClassVar[str] = ""
    new_layer_prefixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params=None, *, backbone=None, positions=None, seed=None):
        self.params = (params if params is not None else self.Params()).validate(self.name)
        self.backbone = backbone
        if not self.uses_positions:
            positions = ()
        elif positions is None:
            positions = self.default_positions(backbone)
        self.positions = tuple(positions)
        if self.uses_positions and backbone is not None and not self.positions:
            # An empty --positions would build the plain CAM model under this method's name.
            raise ValueError(
                f"--positions is empty: --method={self.name} needs at least one position "
                "(--method=cam is the model without any)."
            )
        self.seed = seed

    def default_positions(self, backbone):
        """Positions used when none are given: the backbone's ADL positions by default."""
        return () if backbone is None else backbone.default_positions

    def tap_outputs(self, backbone) -> tuple[str, ...]:
        """Backbone positions whose tensors the model also returns, as outputs["taps"] and
        to the head as `taps={name: tensor}` (SPG's side branches); default none."""
        return ()

    def lr_factors(self) -> dict[str, float]:
        """Learning-rate factors of some of the method's own layers, {layer-name prefix:
        factor}: a variable whose layer's name starts with the prefix trains at this factor
        times the rate its `--lr_groups` group gives it (SPG's side branches:
        `--spg_branch_lr_factor`). Applied as the groups are (SGD: the gradient is scaled;
        `GroupedAdam`: the per-variable rate). Default none: the groups alone."""
        return {}

    def describe(self) -> str:
        """One line for logs: the name, the non-default hyperparameters and positions."""
        fields = dataclasses.asdict(self.params)
        text = ", ".join(f"{k} {v}" for k, v in fields.items())
        if self.positions:
            text += (", " if text else "") + "positions " + ",".join(self.positions)
        return f"{self.name} ({text})" if text else self.name

    # --- model construction -------------------------------------------------------------

    def insert(self, position: str, x):
        """Called by the backbone builder at each chosen position; returns the new tensor."""
        return x

    def build_head(self, num_classes: int, kernel_initializer=None):
        """The layer on the feature map; its call returns a dict with at least "logits"."""
        from wsol_tf.layers import ClassifierHead

        return ClassifierHead(num_classes, kernel_initializer=kernel_initializer, name="head")

    # --- training -----------------------------------------------------------------------

    def augment(self, batch: dict, seeds) -> dict:
        """Training-batch augmentation, stateless in `seeds` ((B, 2) int64, one per example).

        The trainer derives each example's seed from (run seed, global step, the example's
        position in the global batch), so a resumed run draws exactly what the
        uninterrupted one drew, and per-example draws do not depend on how the batch is
        split among replicas (batch-level draws may use `seeds[0]`). Returns the batch dict
        (new keys, e.g. mixed labels, are passed on to `forward` and `loss`).
        """
        return batch

    def forward(self, model, batch: dict, training: bool) -> dict:
        """The training (and validation) forward pass: a dict of named outputs."""
        return model(batch["image"], training=training)

    def loss(self, outputs: dict, batch: dict):
        """(per-example loss (B,) float32, {name: per-example value (B,)} to log)."""
        return cross_entropy(batch["label"], outputs["logits"]), {}

    # --- score maps ---------------------------------------------------------------------

    def score_maps(self, model, images, classes, extractor):
        """(logits (B, C), raw maps (B, h, w) float32) of `classes` for `images`.

        `extractor` is a `wsol_tf.evaluation.extractors` function (classic CAM, Grad-CAM,
        ...). Maps are at the extractor's resolution and not normalized; the caller
        upsamples and min-max normalizes them (`wsol_tf.evaluation.cam`).
        """
        return extractor(model, images, classes)


def cross_entropy(labels, logits):
    """Per-example sparse softmax cross-entropy in float32, (B,)."""
    import keras
    import tensorflow as tf

    return keras.losses.sparse_categorical_crossentropy(
        labels, tf.cast(logits, tf.float32), from_logits=True
    )


def params_fields(params_cls) -> list[dataclasses.Field]:
    return list(dataclasses.fields(params_cls)) if dataclasses.is_dataclass(params_cls) else []


def flag_name(method_name: str, field: dataclasses.Field) -> str:
    """The `python -m wsol_tf.train` flag of a Params field."""
    return field.metadata.get("flag") or f"{method_name}_{field.name}"


def make_params(method_cls, values: dict[str, Any]):
    """`method_cls.Params(**values)`, refusing unknown names with the valid ones."""
    known = {f.name for f in params_fields(method_cls.Params)}
    unknown = sorted(set(values) - known)
    if unknown:
        valid = ", ".join(sorted(known)) or "none"
        raise ValueError(
            f"--method={method_cls.name} has no parameter {unknown[0]!r}; its parameters: {valid}."
        )
    return method_cls.Params(**values)


def params_from_settings(method_cls, settings: dict):
    """Params from {field or flag name: value} (e.g. ADL's "adl_variant" or "variant")."""
    by_flag = {flag_name(method_cls.name, f): f.name for f in params_fields(method_cls.Params)}
    return make_params(method_cls, {by_flag.get(k, k): v for k, v in settings.items()})


def params_to_dict(params) -> dict:
    """{field: value} of a Params instance (tuples kept as lists for JSON)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(params).items()
    }
