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

Branch learning rate `branch_lr_factor` (`--spg_branch_lr_factor`, default 1: unchanged):
the rate of SPG's own layers (spg_*: B1, B2, their shared convs, C) as a factor of what the
`--lr_groups` rule gives new layers (`Method.lr_factors`; SGD scales their gradients,
`GroupedAdam` their rates); the classifier keeps the group's rate. With `new_30`, 1/30 puts
the branches at the base lr. Why: fine-tuning EfficientNet-Lite0 (`pretrained_recipe.py`),
the branches as new layers trained at 10x (0.05) diverged (NaN at step 24) and at 30x
(`SEARCHED`, 0.15) diverge within the first epoch. Probes on CUB mini, `SEARCHED` with
16 cosine epochs, seed 0, per-epoch loss (loss_cls) over the first epochs, stopped there:

    taps block4c_add,block5c_add (linear residual outputs, rms 6, max 73 on a batch):
      factor 1      1.5e19 (2.36; loss_b2 1.5e19), 37.5 (36.8): diverged, chance accuracy
      factor 1/30   3.66 (2.35), 4.45 (2.09), 2.51 (1.98), 2.52 (2.19), 3.40 (3.18),
                    3.51 (2.96): no blow-up, but the classifier collapses (train accuracy
                    37% at epoch 3, 8% at epoch 6)
    taps block4c_relu,block5c_relu (the same blocks' ReLU6 depthwise outputs, rms 0.6):
      factor 1      17.4 (2.08; loss_c 9.7), 2.9e7 (loss_b1 2.9e7): diverged
      factor 1/30   2.91 (2.22), 2.53 (2.08), 1.95 (1.71), 1.52 (1.24), 1.08 (0.81),
                    1.03 (0.78): trains (train accuracy 74% at epoch 6)

So the branches' 30x rate is what diverges, at either tap (a branch's BCE has a bounded
gradient in its logits; what blows up is the branch itself). At the base rate the linear
taps, 10x the ReLU6 taps' rms (wsolevaluation's Mixed_5d / Mixed_6d are ReLU outputs too),
still lose the classifier, the ReLU taps do not (one seed each, 6 of 16 epochs). The CAM
head at 30x is not the cause: it is at 30x in all four probes, and in CAM's and ADL's runs
of that recipe (`cub_recipe`).
"""

import dataclasses
import math

from wsol_tf.methods import register
from wsol_tf.methods.base import Method, check, cross_entropy, param

# Every layer SPG adds beyond the CAM head (`SPGHead`'s B1, B2 and C convs) is named so.
BRANCH_PREFIX = "spg_"
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
    branch_lr_factor: float = param(
        1.0,
        "Learning-rate factor of SPG's own layers (B1, B2, C: spg_*) relative to the "
        "--lr_groups rate of new layers (e.g. 1/30 with new_30: the base lr); the CAM head "
        "keeps the group's rate.",
    )

    def validate(self, method_name):
        for key in THRESHOLDS:
            value = getattr(self, f"threshold_{key}")
            ok = isinstance(value, int | float) and 0.0 <= value <= 1.0
            check(ok, f"spg_threshold_{key}", value, "in [0, 1]")
        if self.branch_channels is not None:
            ok = isinstance(self.branch_channels, int) and self.branch_channels >= 1
            check(ok, "spg_branch_channels", self.branch_channels, "an integer >= 1")
        factor = self.branch_lr_factor
        ok = isinstance(factor, int | float) and math.isfinite(factor) and factor > 0
        check(ok, "spg_branch_lr_factor", factor, "a finite number > 0")
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

    def lr_factors(self):
        """The side branches' layers (spg_*) at `branch_lr_factor` x their group's rate."""
        factor = float(self.params.branch_lr_factor)
        return {} if factor == 1.0 else {BRANCH_PREFIX: factor}

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
