"""ACoL, Adversarial Complementary Learning (Zhang et al., CVPR 2018): two parallel classifier
heads; head B sees the feature map with head A's most discriminative region erased.

As wsolevaluation's `AcolBase` (`wsol_tf.layers.ACoLHead`):
- each head: `head_convs` 3x3 convs + ReLU (wsolevaluation: two, 1024 channels), then a 1x1
  classifier whose global average gives the logits;
- erasing: positions where A's class map, min-max normalized per image, is >= `threshold`
  (delta) are zeroed in the features B sees; the class is the ground truth in training and
  A's prediction at inference (`forward` passes the labels to the head);
- loss: CE(A) + CE(B), weight 1 each; the reported logits are A's;
- localization map: max(normalized A map, normalized B map) of the asked class, B's computed
  after erasing with that class (the head's `class_maps`).

Hyperparameters: `threshold` 0.7 is wsolevaluation's default (`--acol_threshold`; the ACoL
paper sweeps delta in 0.5-0.9). `head_channels` defaults to the feature map's channels:
1024 on VGG16-GAP and InceptionV3 (wsolevaluation's width), 256 on TinyVGG.
Head learning rate `head_lr_factor` (`--acol_head_lr_factor`, default 1: unchanged): the
rate of both heads as a factor of what the `--lr_groups` rule gives new layers
(`Method.lr_factors`), as SPG's branch factor. Why: fine-tuning EfficientNet-Lite0 with
`pretrained_recipe.SEARCHED` (SGD 0.005, new layers at 30x: 0.15), the two-conv heads at
1280 channels stayed at chance (loss 6.5-6.7 = 2 ln 25, accuracy 1-3% over epochs 1-3 on
CUB 25cls), where CAM's single linear classifier trains at that rate.
Where the heads sit: on each backbone's feature map ("features"). Our backbones end with
their WSOL conv (VGG-GAP's conv6, InceptionV3's SPG-A3 convs, TinyVGG's "features" conv),
which wsolevaluation's ACoL models do not have: the erasing acts after that conv, shared by
the two heads.
"""

import dataclasses
import math

from wsol_tf.methods import register
from wsol_tf.methods.base import Method, check, cross_entropy, param


@dataclasses.dataclass(frozen=True)
class ACoLParams:
    threshold: float = param(0.7, "Erasing threshold delta on head A's normalized CAM.")
    head_convs: int = param(2, "3x3 conv + ReLU layers in each head before its classifier.")
    head_channels: int | None = param(
        None, "Channels of those convs (default: the feature map's channels)."
    )
    head_lr_factor: float = param(
        1.0,
        "Learning-rate factor of both heads (their convs and classifiers) relative to the "
        "--lr_groups rate of new layers (e.g. 1/30 with new_30: the base lr).",
    )

    def validate(self, method_name):
        ok = isinstance(self.threshold, int | float) and 0.0 < self.threshold <= 1.0
        check(ok, "acol_threshold", self.threshold, "in (0, 1]")
        ok = isinstance(self.head_convs, int) and self.head_convs >= 0
        check(ok, "acol_head_convs", self.head_convs, "an integer >= 0")
        if self.head_channels is not None:
            ok = isinstance(self.head_channels, int) and self.head_channels >= 1
            check(ok, "acol_head_channels", self.head_channels, "an integer >= 1")
        factor = self.head_lr_factor
        ok = isinstance(factor, int | float) and math.isfinite(factor) and factor > 0
        check(ok, "acol_head_lr_factor", factor, "a finite number > 0")
        return self


@register
class ACoL(Method):
    name = "acol"
    Params = ACoLParams
    reference = (
        "Zhang et al., Adversarial Complementary Learning for Weakly Supervised Object "
        "Localization, CVPR 2018"
    )

    def build_head(self, num_classes, kernel_initializer=None):
        from wsol_tf.layers import ACoLHead

        return ACoLHead(
            num_classes,
            threshold=self.params.threshold,
            convs=self.params.head_convs,
            channels=self.params.head_channels,
            kernel_initializer=kernel_initializer,
            name="head",
        )

    def lr_factors(self):
        """Both heads' layers (acol_* convs, classifier, classifier_b) at `head_lr_factor` x
        their group's rate; default 1: the groups alone."""
        factor = float(self.params.head_lr_factor)
        return {} if factor == 1.0 else {"acol_": factor, "classifier": factor}

    def forward(self, model, batch, training):
        features, _ = model.features_and_taps(batch["image"], training=training)
        head = model.head(features, training=training, labels=batch["label"])
        return {"features": features, **head}

    def loss(self, outputs, batch):
        loss_a = cross_entropy(batch["label"], outputs["logits"])
        loss_b = cross_entropy(batch["label"], outputs["logits_b"])
        return loss_a + loss_b, {"loss_a": loss_a, "loss_b": loss_b}
