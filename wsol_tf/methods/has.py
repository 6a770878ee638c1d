"""HaS, Hide-and-Seek (Singh & Lee, ICCV 2017): hide random patches of each training image.

Each training image is cut into a grid of square patches whose side is drawn per image from
`patch_sizes` (kkanshul/Hide-and-Seek: {0, 16, 32, 44, 56} pixels at 224 input, 0 meaning
no hiding; `--has_patch_sizes=32` fixes one size). Each patch is hidden with probability
`hide_prob` (0.5 in the paper and in wsolevaluation's `--has_drop_rate`); the grid starts at
the top-left corner, and the last row and column of patches are cut by the image border.
Inference sees whole images (the hook runs on training batches only).

The fill value: the paper sets hidden pixels to the mean pixel of the training set, so
that a hidden patch's expected first-layer response matches a visible one's. Both reference
codes hide *after* subtracting the ImageNet mean (they write 0), i.e. they fill with the
ImageNet mean pixel. Our images enter the model in RGB [0, 255], so the default fill is that
ImageNet mean, (123.675, 116.28, 103.53): it is the statistic our backbones normalize with
(TinyVGG's `Normalization`, the Caffe mean of VGG16/ResNet50), the value both reference
codes use, and it needs no pass over the data. `--has_fill=R,G,B` gives another dataset's
mean (e.g. the synthetic set's).

Draws are stateless in the per-example seeds (`Method.augment`): the same patches under any
replica split and after a resume. Logged per example: `hidden_fraction` (of the pixels).
"""

import dataclasses

from wsol_tf.methods import register
from wsol_tf.methods.base import Method, check, check_probability, cross_entropy, param

PAPER_PATCH_SIZES = (0, 16, 32, 44, 56)
IMAGENET_MEAN = (123.675, 116.28, 103.53)


def _numbers(value, kind):
    """A tuple of `kind` from a tuple/list or the flag's "a,b,c" string (or a number)."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if isinstance(value, int | float):
        value = [value]
    return tuple(kind(v) for v in value)


@dataclasses.dataclass(frozen=True)
class HaSParams:
    patch_sizes: tuple = param(
        PAPER_PATCH_SIZES,
        "Patch sides in pixels, one drawn per image (0: no hiding); one value fixes the size.",
    )
    hide_prob: float = param(0.5, "Probability that a patch is hidden.")
    fill: tuple = param(IMAGENET_MEAN, "RGB value of hidden pixels, [0, 255] (dataset mean).")

    def validate(self, method_name):
        try:
            sizes = _numbers(self.patch_sizes, int)
        except (TypeError, ValueError):
            sizes = None
        check(bool(sizes) and all(s >= 0 for s in sizes), "has_patch_sizes", self.patch_sizes,
              "one or more integers >= 0")  # fmt: skip
        check_probability("has_hide_prob", self.hide_prob)
        try:
            fill = _numbers(self.fill, float)
        except (TypeError, ValueError):
            fill = ()
        check(len(fill) == 3 and all(0.0 <= v <= 255.0 for v in fill), "has_fill", self.fill,
              "three numbers R,G,B in [0, 255]")  # fmt: skip
        return dataclasses.replace(self, patch_sizes=sizes, fill=fill)


def hide_masks(seeds, height, width, patch_sizes, hide_prob):
    """HaS's hidden-pixel masks, stateless in `seeds`.

    Args:
        seeds: (B, 2) int64, one seed per image.
        height, width: image size (ints).
        patch_sizes: tuple of ints >= 0, one drawn per image (0: nothing hidden).
        hide_prob: probability that a patch is hidden.

    Returns:
        (masks (B, height, width) bool, True = hidden; sizes (B,) int32, the drawn sides).
    """
    import tensorflow as tf

    sizes_table = tf.constant(patch_sizes, tf.int32)
    smallest = max(1, min([s for s in patch_sizes if s > 0], default=1))
    rows_cells, cols_cells = -(-height // smallest), -(-width // smallest)  # ceil

    def one(seed):
        seed_size, seed_cells = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        index = tf.random.stateless_uniform(
            [], seed_size, minval=0, maxval=len(patch_sizes), dtype=tf.int32
        )
        size = sizes_table[index]
        hidden_cells = tf.random.stateless_uniform([rows_cells, cols_cells], seed_cells) < hide_prob
        step = tf.where(size > 0, size, smallest)  # size 0 hides nothing; keeps indices valid
        rows = tf.range(height) // step
        cols = tf.range(width) // step
        mask = tf.gather(tf.gather(hidden_cells, rows, axis=0), cols, axis=1)
        return tf.logical_and(mask, size > 0), size

    return tf.map_fn(
        one,
        tf.cast(seeds, tf.int64),
        fn_output_signature=(tf.TensorSpec([height, width], tf.bool), tf.int32),
    )


@register
class HaS(Method):
    name = "has"
    Params = HaSParams
    reference = (
        "Singh & Lee, Hide-and-Seek: Forcing a Network to be Meticulous for Weakly-supervised "
        "Object and Action Localization, ICCV 2017"
    )

    def augment(self, batch, seeds):
        import tensorflow as tf

        images = batch["image"]
        height, width = int(images.shape[1]), int(images.shape[2])
        masks, _ = hide_masks(seeds, height, width, self.params.patch_sizes, self.params.hide_prob)
        fill = tf.cast(tf.constant(self.params.fill), images.dtype)
        hidden = tf.where(masks[..., None], fill, images)
        fraction = tf.reduce_mean(tf.cast(masks, tf.float32), axis=[1, 2])
        return {**batch, "image": hidden, "hidden_fraction": fraction}

    def loss(self, outputs, batch):
        return cross_entropy(batch["label"], outputs["logits"]), {
            "hidden_fraction": batch["hidden_fraction"]
        }
