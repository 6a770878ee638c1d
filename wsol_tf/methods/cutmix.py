"""CutMix (Yun et al., ICCV 2019): paste a box from another image of the batch, mix the labels
by the pasted area.

With probability `prob` an image receives a box cut from its partner image (same place in
both). The box follows the reference `rand_bbox`: lambda ~ Beta(beta, beta) (Beta(1, 1) =
uniform by default), sides floor(W * sqrt(1 - lambda)) and floor(H * sqrt(1 - lambda)), a
uniformly drawn center, corners at center -/+ half side clipped to the image. The label
weights come from the box actually pasted, after clipping: the image's own label gets
1 - area / (H * W), the partner's label the rest (as the reference recomputes lambda).

Hyperparameters: `prob` 1.0 and `beta` 1.0 are wsolevaluation's defaults (`--cutmix_prob`,
`--cutmix_beta`) and the CutMix paper's ImageNet/CUB setting (alpha = 1).

Draws: lambda, the center and the coin are drawn per image from its own seed, so they are
the same under any replica split and after a resume. (The reference draws one lambda, box
and coin per batch; per image is the same distribution for each image, with more variety
within a batch.) The partner of image i is, with `partner`:
- "permutation" (default): a random permutation of the replica's batch (the reference's
  `randperm`), drawn from the batch's first seed. With several replicas each draws among its
  own images, so results depend on the split (`tests/test_method_contract.py` uses "pair").
- "pair": image i ^ 1 (0<->1, 2<->3, ...); the batch is already shuffled, so this is as
  random, and it does not depend on the replica split when local batches are even.

Logged per example: `pasted_fraction` (the pasted area over the image area).
"""

import dataclasses
import math

from wsol_tf.methods import register
from wsol_tf.methods.base import Method, check, check_probability, cross_entropy, param

PARTNERS = ("permutation", "pair")


@dataclasses.dataclass(frozen=True)
class CutMixParams:
    prob: float = param(1.0, "Probability that an image gets a box from its partner.")
    beta: float = param(1.0, "Box area: lambda ~ Beta(beta, beta), box = (1 - lambda) of it.")
    partner: str = param(
        "permutation",
        "Partner image: a random permutation of the batch, or pairs i <-> i^1.",
        choices=PARTNERS,
    )

    def validate(self, method_name):
        check_probability("cutmix_prob", self.prob)
        ok = isinstance(self.beta, int | float) and math.isfinite(self.beta) and self.beta > 0
        check(ok, "cutmix_beta", self.beta, "a finite number > 0")
        if self.partner not in PARTNERS:
            raise ValueError(
                f"--cutmix_partner={self.partner!r} is invalid: valid: {', '.join(PARTNERS)}."
            )
        return self


def cut_boxes(seeds, height, width, prob, beta):
    """The boxes CutMix pastes, stateless in `seeds` ((B, 2) int64, one per image).

    Returns:
        (B, 4) int32 boxes (y0, x0, y1, x1), end exclusive, already clipped; an image whose
        coin says no (probability 1 - prob) gets an empty box (0, 0, 0, 0).
    """
    import tensorflow as tf

    def one(seed):
        s_a, s_b, s_y, s_x, s_on = tf.unstack(tf.random.experimental.stateless_split(seed, 5))
        a = tf.random.stateless_gamma([], s_a, alpha=beta)
        b = tf.random.stateless_gamma([], s_b, alpha=beta)
        lam = a / (a + b)  # Beta(beta, beta)
        cy = tf.random.stateless_uniform([], s_y, minval=0, maxval=height, dtype=tf.int32)
        cx = tf.random.stateless_uniform([], s_x, minval=0, maxval=width, dtype=tf.int32)
        on = tf.random.stateless_uniform([], s_on) < prob
        ratio = tf.sqrt(1.0 - lam)
        cut_h = tf.cast(tf.floor(height * ratio), tf.int32)
        cut_w = tf.cast(tf.floor(width * ratio), tf.int32)
        box = tf.stack(
            [
                tf.clip_by_value(cy - cut_h // 2, 0, height),
                tf.clip_by_value(cx - cut_w // 2, 0, width),
                tf.clip_by_value(cy + cut_h // 2, 0, height),
                tf.clip_by_value(cx + cut_w // 2, 0, width),
            ]
        )
        return tf.where(on, box, tf.zeros_like(box))

    return tf.map_fn(
        one, tf.cast(seeds, tf.int64), fn_output_signature=tf.TensorSpec([4], tf.int32)
    )


def partners(seeds, mode):
    """(B,) int32 partner index of each image of the batch (see the module docstring)."""
    import tensorflow as tf

    size = tf.shape(seeds)[0]
    if mode == "pair":
        return tf.minimum(tf.bitwise.bitwise_xor(tf.range(size), 1), size - 1)
    draws = tf.random.stateless_uniform([size], tf.cast(seeds[0], tf.int64))
    return tf.cast(tf.argsort(draws), tf.int32)


@register
class CutMix(Method):
    name = "cutmix"
    Params = CutMixParams
    reference = (
        "Yun et al., CutMix: Regularization Strategy to Train Strong Classifiers with "
        "Localizable Features, ICCV 2019"
    )

    def augment(self, batch, seeds):
        import tensorflow as tf

        images = batch["image"]
        height, width = int(images.shape[1]), int(images.shape[2])
        boxes = cut_boxes(seeds, height, width, self.params.prob, self.params.beta)
        partner = partners(seeds, self.params.partner)
        rows = tf.range(height)[None, :, None]
        cols = tf.range(width)[None, None, :]
        y0, x0, y1, x1 = (boxes[:, i, None, None] for i in range(4))
        inside = (rows >= y0) & (rows < y1) & (cols >= x0) & (cols < x1)  # (B, H, W)
        mixed = tf.where(inside[..., None], tf.gather(images, partner), images)
        area = tf.cast((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), tf.float32)
        pasted = area / float(height * width)
        return {
            **batch,
            "image": mixed,
            "label_b": tf.gather(batch["label"], partner),
            "label_weight": 1.0 - pasted,
        }

    def loss(self, outputs, batch):
        weight = batch["label_weight"]
        per_example = weight * cross_entropy(batch["label"], outputs["logits"]) + (
            1.0 - weight
        ) * cross_entropy(batch["label_b"], outputs["logits"])
        return per_example, {"pasted_fraction": 1.0 - weight}
