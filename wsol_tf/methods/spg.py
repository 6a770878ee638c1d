"""SPG, Self-Produced Guidance (Zhang et al., ECCV 2018), in wsolevaluation's variant.

The CAM head (GAP + dense classifier = SPG-A4) is trained with cross-entropy; three
one-channel side branches learn pixel masks produced by the network itself
(`wsol_tf.layers.SPGHead`, `guidance_masks`):

    B1 <- tap 1 (InceptionV3: Mixed_5d = mixed2)    B2 <- tap 2 (Mixed_6d = mixed6)
    C  <- the feature map (after SPG-A3, the input of the classifier)

All maps are upsampled (bilinear) to the input size, as wsolevaluation upsamples to 224.
With A the ground-truth class's CAM min-max normalized, B1~, B2~ the sigmoids of B1, B2:

    loss = CE(logits) + BCE(B2, mask(A; 1h, 1l)) + BCE(B1, mask(B2~; 2h, 2l))
                      + BCE(C, mask((B1~ + B2~) / 2; 3h, 3l))

mask(m; h, l): target 1 where m > h (if fewer than 30 pixels pass, where m > 0.7 max(m)),
target 0 where m < l, ignored elsewhere; no gradient flows through a mask. These are all of
wsolevaluation's losses, weight 1 each, with its default thresholds (`config.py`:
`--spg_threshold_1h` 0.7, `_1l` 0.01, `_2h` 0.5, `_2l` 0.05, `_3h` 0.7, `_3l` 0.1). The
score map is the classifier's CAM (wsolevaluation's `return_cam`), unchanged.

One change: each image's BCE is its mean over its own valid pixels (0 when it has none), then
averaged over the batch like every per-example loss; wsolevaluation averages over all valid
pixels of the batch at once, which would make one image's weight depend on the others (and
on how the batch is split among replicas).
Not kept: wsolevaluation's InceptionV3 also applies dropout 0.5 around the SPG-A3 convs, for
CAM as for SPG; our InceptionV3 has no dropout for any method, so SPG adds none.

Side-branch positions (`--positions`, two of them): by default the backbone spec's
`side_taps` (InceptionV3: mixed2, mixed6, wsolevaluation's); a backbone that declares none
(MobileNetV1) needs two given.
Branch width `branch_channels`: default half the feature map's channels (512 on InceptionV3
and VGG16-GAP as in wsolevaluation, 1024 on ResNet50, 128 on TinyVGG).
"""

import dataclasses

from wsol_tf.methods import register
from wsol_tf.methods.base import Method, check, cross_entropy, param

THRESHOLDS = {"1h": 0.7, "1l": 0.01, "2h": 0.5, "2l": 0.05, "3h": 0.7, "3l": 0.1}
_HELP = {
    "1": "B2 from the ground-truth CAM",
    "2": "B1 from sigmoid(B2)",
    "3": "C from the fused B1, B2 map",
}


def _threshold(key):
    level = "foreground above" if key[1] == "h" else "background below"
    return param(THRESHOLDS[key], f"Guidance {key}: {level} this, for {_HELP[key[0]]}.",
                 flag=f"spg_threshold_{key}")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class SPGParams:
    threshold_1h: float = _threshold("1h")
    threshold_1l: float = _threshold("1l")
    threshold_2h: float = _threshold("2h")
    threshold_2l: float = _threshold("2l")
    threshold_3h: float = _threshold("3h")
    threshold_3l: float = _threshold("3l")
    branch_channels: int | None = param(
        None, "Channels of the side branches' 3x3 convs (default: half the feature map's)."
    )

    def validate(self, method_name):
        for key in THRESHOLDS:
            value = getattr(self, f"threshold_{key}")
            ok = isinstance(value, int | float) and 0.0 <= value <= 1.0
            check(ok, f"spg_threshold_{key}", value, "in [0, 1]")
        if self.branch_channels is not None:
            ok = isinstance(self.branch_channels, int) and self.branch_channels >= 1
            check(ok, "spg_branch_channels", self.branch_channels, "an integer >= 1")
        return self


def guidance_loss(logits, maps, high, low):
    """Per-image BCE of one side branch's logit map against the mask of `maps`, both
    (B, H, W) at the input size; mean over each image's valid pixels (0 if none)."""
    import tensorflow as tf

    from wsol_tf.layers.spg import guidance_masks

    target, valid = guidance_masks(tf.stop_gradient(maps), high, low)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits)
    count = tf.reduce_sum(valid, axis=[1, 2])
    return tf.reduce_sum(bce * valid, axis=[1, 2]) / tf.maximum(count, 1.0)


@register
class SPG(Method):
    name = "spg"
    Params = SPGParams
    uses_positions = True
    reference = (
        "Zhang et al., Self-produced Guidance for Weakly-supervised Object Localization, ECCV 2018"
    )

    def __init__(self, params=None, *, backbone=None, positions=None, seed=None):
        super().__init__(params, backbone=backbone, positions=positions, seed=seed)
        if len(self.positions) != 2:
            raise ValueError(
                f"--positions={','.join(self.positions)}: --method=spg takes exactly two "
                "positions, the inputs of its side branches B1 and B2."
            )

    def default_positions(self, backbone):
        """The backbone spec's `side_taps` (B1, B2)."""
        if backbone is None:
            return ()
        if not backbone.side_taps:
            raise ValueError(
                f"--method=spg has no default side-branch positions for --model={backbone.name}; "
                f"give two with --positions=<B1>,<B2> (valid positions: "
                f"{', '.join(backbone.positions)})."
            )
        return backbone.side_taps

    def tap_outputs(self, backbone):
        return self.positions

    def build_head(self, num_classes, kernel_initializer=None):
        from wsol_tf.layers import SPGHead

        return SPGHead(
            num_classes,
            tap_names=self.positions,
            channels=self.params.branch_channels,
            kernel_initializer=kernel_initializer,
            name="head",
        )

    def forward(self, model, batch, training):
        import tensorflow as tf

        outputs = model(batch["image"], training=training)
        # The ground-truth class's CAM, the source of B2's guidance (no gradient).
        cam = model.head.class_maps(outputs["features"], batch["label"])
        return {**outputs, "spg_cam": tf.stop_gradient(cam)}

    def loss(self, outputs, batch):
        import tensorflow as tf

        from wsol_tf.layers.acol import normalize_maps

        size = tf.shape(batch["image"])[1:3]

        def upsample(maps):
            maps = tf.cast(maps, tf.float32)[..., None]
            return tf.image.resize(maps, size, method="bilinear")[..., 0]

        p = self.params
        b1, b2, c = (upsample(outputs[k]) for k in ("spg_b1", "spg_b2", "spg_c"))
        attention = normalize_maps(upsample(outputs["spg_cam"]))
        b1_prob, b2_prob = tf.sigmoid(b1), tf.sigmoid(b2)
        loss_b2 = guidance_loss(b2, attention, p.threshold_1h, p.threshold_1l)
        loss_b1 = guidance_loss(b1, b2_prob, p.threshold_2h, p.threshold_2l)
        loss_c = guidance_loss(c, (b1_prob + b2_prob) / 2.0, p.threshold_3h, p.threshold_3l)
        loss_cls = cross_entropy(batch["label"], outputs["logits"])
        logs = {"loss_cls": loss_cls, "loss_b1": loss_b1, "loss_b2": loss_b2, "loss_c": loss_c}
        return loss_cls + loss_b1 + loss_b2 + loss_c, logs
