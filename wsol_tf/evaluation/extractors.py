"""Score-map extractors (`--cam`): functions of a WSOL model, images and class ids.

Each extractor is `extractor(model, images, classes) -> (logits (B, C), maps (B, h, w))`
in TensorFlow ops (`classes` None: each image's top-1 class), so the same function serves
the evaluator, the TensorBoard pictures, `localize` and the exported SavedModel. Maps are
raw (feature resolution, not normalized); `wsol_tf.evaluation.cam` upsamples and min-max
normalizes them. A method reaches them through its `score_maps` hook
(`wsol_tf.methods.base.Method.score_maps`).

    classic   CAM: the head's class activation map (for GAP + Dense: sum_k w[k, c] F[..., k])
    gradcam   Grad-CAM without ReLU on the class logit, as Tensorpack's ADL code computes it

`cam` is accepted as another name for `classic` (`--cam=cam` in earlier commands).
"""

from __future__ import annotations

import numpy as np

EXTRACTORS = {}
ALIASES = {"cam": "classic"}


def extractor(name):
    """Decorator: registers an extractor under `name`."""

    def register(fn):
        EXTRACTORS[name] = fn
        return fn

    return register


def names() -> tuple[str, ...]:
    """Extractor names for `--cam`, aliases last."""
    return (*EXTRACTORS, *ALIASES)


def get(name):
    """The extractor function called `name` (or an alias); ValueError listing the valid ones."""
    canonical = ALIASES.get(name, name)
    if canonical not in EXTRACTORS:
        raise ValueError(f"cam={name!r}: valid choices are {', '.join(names())}")
    return EXTRACTORS[canonical]


def canonical_name(name) -> str:
    get(name)
    return ALIASES.get(name, name)


def target_classes(logits, classes):
    """`classes` as int32, or each row's arg-max when None."""
    import tensorflow as tf

    if classes is None:
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.cast(classes, tf.int32)


@extractor("classic")
def classic(model, images, classes):
    """Classic CAM of `classes` from the model's head (`head.class_maps`)."""
    outputs = model(images, training=False)
    classes = target_classes(outputs["logits"], classes)
    return outputs["logits"], model.head.class_maps(outputs["features"], classes)


@extractor("gradcam")
def gradcam(model, images, classes):
    """Grad-CAM without ReLU: `sum_k mean_hw(dy_c/dF_k) F_k` with y_c the class logit."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        outputs = model(images, training=False)
        features = outputs["features"]
        classes = target_classes(outputs["logits"], classes)
        chosen = tf.gather(outputs["logits"], classes, axis=1, batch_dims=1)
        total = tf.reduce_sum(tf.cast(chosen, tf.float32))  # images are independent
    gradients = tape.gradient(total, features)
    weights = tf.reduce_mean(tf.cast(gradients, tf.float32), axis=[1, 2])  # (B, K)
    maps = tf.einsum("bhwk,bk->bhw", tf.cast(features, tf.float32), weights)
    return outputs["logits"], maps


class ScoreMapper:
    """Images -> (logits, score maps of chosen classes) through the model's method.

    Args:
        model: a `WSOLModel` (`wsol_tf.models.build`) with its weights.
        cam: extractor name (`names()`); default classic CAM.
    """

    def __init__(self, model, cam="classic"):
        import tensorflow as tf

        self.model = model
        self.cam = canonical_name(cam)
        self.image_size = model.image_size
        self._extractor = get(cam)
        # reduce_retracing: the picture batches and a last partial batch have other sizes.
        self._maps = tf.function(self._raw_maps, reduce_retracing=True)
        self._logits = tf.function(
            lambda images: model(images, training=False)["logits"], reduce_retracing=True
        )

    def _raw_maps(self, images, classes):
        return self.model.method.score_maps(self.model, images, classes, self._extractor)

    def logits(self, images) -> np.ndarray:
        """(B, C) logits of a (B, h, w, 3) batch in [0, 255]."""
        return self._logits(images).numpy()

    def raw(self, images, classes):
        """(logits (B, C), raw maps (B, h', w') float32) as numpy."""
        import tensorflow as tf

        classes = tf.constant(np.asarray(classes, dtype=np.int32))
        logits, maps = self._maps(images, classes)
        return logits.numpy(), maps.numpy().astype(np.float32)

    def __call__(self, images, classes):
        """Logits (B, C) and normalized (B, h, w) float64 maps of `classes` at the input size."""
        from wsol_tf.evaluation.cam import normalize_scoremap, upsample_scoremaps

        logits, maps = self.raw(images, classes)
        return logits, normalize_scoremap(upsample_scoremaps(maps, self.image_size))
