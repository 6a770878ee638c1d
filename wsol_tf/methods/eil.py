"""EIL (Mai, Yang & Luo, CVPR 2020): Erasing Integrated Learning, and MEIL (several points).

Definition (seed 004, Algorithm 1; reference code Wayne-Mai/EIL `network/vgg_eil.py`):
at one backbone position the lower network gives the unerased feature map `F_u`; its
channel mean `M` thresholded gives the erasing mask (0 where `M >= level`, 1 elsewhere) and
`F_e = F_u * mask`. Both `F_u` and `F_e` go through the *same* upper network and classifier
(shared weights) in one forward-backward pass; loss = CE(unerased) + sigma * CE(erased).
At inference there is one branch, the unerased one: the model is the plain CAM model (the
position holds an identity marker), so its logits and CAMs are the single-branch model's.

Choices (flags in brackets):
- the erasing level [--eil_threshold_mode, --eil_threshold]: "relative" (default) erases
  where `M >= threshold * max(M)` per sample, as the reference code does (0.7 * max, the
  default); "absolute" erases where `M >= threshold`, the seed's gamma as written.
- sigma [--eil_weight]: 1.0, the reference code's plain sum of the two losses. The seed's
  per-branch loss carries a 1/C factor that its code does not: we use plain cross-entropy.
- position [--positions]: the reference erases after pool4 of VGG16. The default is the
  middle one of the backbone's three ADL positions, which is pool4 on VGG-GAP
  (`block4_pool`) and its analogue on TinyVGG (`block3_pool`, the second pooling of three,
  before the last conv block); conv5_block1_out on ResNet50(-SE), conv_pw_11_relu on
  MobileNetV1, mixed7 on InceptionV3.
- MEIL [--positions=a,b,...]: the unerased stream is erased at each listed position, and
  each erased branch then runs the rest of the network unerased (it is not erased again at
  later positions); loss = CE(unerased) + sigma * sum over positions of CE(erased there).
  The seed only says the modules are applied "in a sequential manner"; this is the reading
  with one extra branch per position rather than 2^n.
- the mask has no gradient (a comparison, as `(attention < thr).float()` in the reference).
- BatchNorm (TinyVGG, ResNets): each branch is its own call of the upper network, so each
  branch is normalized with its own batch statistics and the moving statistics are updated
  once per branch per step. VGG16, the reference backbone, has no BatchNorm.

Outputs of the training forward: "features" and "logits" of the unerased branch (the
trainer's accuracy, the regularizers), and "logits_erased" = {position: (B, C) logits}.
"""

import dataclasses

from wsol_tf.methods import register
from wsol_tf.methods.base import Method, check, check_finite, cross_entropy, param

THRESHOLD_MODES = ("relative", "absolute")


@dataclasses.dataclass(frozen=True)
class EILParams:
    threshold: float = param(
        0.7,
        "EIL erasing level: a fraction of the per-sample maximum of the channel-mean map "
        "(mode relative) or the level itself (mode absolute).",
    )
    threshold_mode: str = param(
        "relative",
        "EIL threshold as a fraction of each sample's max (reference code) or absolute "
        "(the paper's gamma).",
        choices=THRESHOLD_MODES,
    )
    weight: float = param(1.0, "EIL sigma: weight of the erased branch's cross-entropy.")

    def validate(self, method_name):
        if self.threshold_mode not in THRESHOLD_MODES:
            raise ValueError(
                f"--eil_threshold_mode={self.threshold_mode!r}: valid: "
                f"{', '.join(THRESHOLD_MODES)}."
            )
        check_finite("eil_threshold", self.threshold)
        if self.threshold_mode == "relative":
            check(0.0 < self.threshold <= 1.0, "eil_threshold", self.threshold,
                  "in (0, 1] with --eil_threshold_mode=relative")  # fmt: skip
        check_finite("eil_weight", self.weight)
        check(self.weight >= 0.0, "eil_weight", self.weight, ">= 0")
        return self


def marker_name(position):
    """Name of the identity layer EIL puts at `position` (where the backbone is split)."""
    return f"eil_{position}"


@register
class EIL(Method):
    name = "eil"
    Params = EILParams
    uses_positions = True
    reference = (
        "Mai, Yang & Luo, Erasing Integrated Learning: A Simple yet Effective Approach for "
        "Weakly Supervised Object Localization, CVPR 2020"
    )

    def __init__(self, params=None, *, backbone=None, positions=None, seed=None):
        super().__init__(params, backbone=backbone, positions=positions, seed=seed)
        self._erasing = {}
        self._split = None  # (backbone, segments, ordered positions), built on first use

    def default_positions(self, backbone):
        positions = () if backbone is None else backbone.default_positions
        return positions[len(positions) // 2 : len(positions) // 2 + 1]

    def insert(self, position, x):
        import keras

        from wsol_tf.layers import EILErasing

        self._erasing[position] = EILErasing(
            self.params.threshold, self.params.threshold_mode, name=f"eil_erasing_{position}"
        )
        return keras.layers.Identity(name=marker_name(position))(x)

    def segments(self, model):
        """(segments, positions in backbone order): the backbone cut at EIL's markers into
        functional models sharing its layers (images -> marker 1 -> ... -> feature map)."""
        import keras

        backbone = model.backbone
        if self._split is None or self._split[0] is not backbone:
            order = {layer.name: i for i, layer in enumerate(backbone.layers)}
            positions = sorted(self.positions, key=lambda p: order[marker_name(p)])
            cuts = [backbone.get_layer(marker_name(p)).output for p in positions]
            starts = [backbone.input, *cuts]
            ends = [*cuts, backbone.output]
            segments = [
                keras.Model(start, end, name=f"{backbone.name}_eil_segment_{i}")
                for i, (start, end) in enumerate(zip(starts, ends, strict=True))
            ]
            self._split = (backbone, segments, tuple(positions))
        return self._split[1], self._split[2]

    def forward(self, model, batch, training):
        if not training:
            return model(batch["image"], training=training)
        segments, positions = self.segments(model)
        unerased = segments[0](batch["image"], training=training)
        erased = {}
        for position, segment in zip(positions, segments[1:], strict=True):
            erased[position] = self._erasing[position](unerased)
            # Earlier erased branches go on through this segment too, unerased here.
            erased = {p: segment(f, training=training) for p, f in erased.items()}
            unerased = segment(unerased, training=training)
        outputs = {"features": unerased, **model.head(unerased, training=training)}
        outputs["logits_erased"] = {
            p: model.head(f, training=training)["logits"] for p, f in erased.items()
        }
        return outputs

    def loss(self, outputs, batch):
        labels = batch["label"]
        unerased = cross_entropy(labels, outputs["logits"])
        erased = sum(cross_entropy(labels, logits) for logits in outputs["logits_erased"].values())
        return unerased + self.params.weight * erased, {
            "loss_unerased": unerased,
            "loss_erased": erased,
        }
