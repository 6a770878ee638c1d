"""The callers' side: a `cam` (name or `CamSpec`) turned into its one map function
(`build`), checked against a model (`prepare`), and `ScoreMapper`, which the evaluator,
TensorBoard and `localize` call for maps at the input size."""

from __future__ import annotations

import functools

import numpy as np

from wsol_tf.evaluation.extractors.spec import EXTRACTORS, CamSpec, resolve
from wsol_tf.evaluation.extractors.tta import tta


def build(cam):
    """The one map function of `cam` (name or spec): `fn(model, images, classes)`."""
    spec = resolve(cam)
    fn = functools.partial(EXTRACTORS.get(spec.name).fn, spec=spec)
    if spec.smooth == "tta":
        fn = functools.partial(tta, base=fn, scales=spec.tta_scales)
    return fn


def prepare(model, cam) -> CamSpec:
    """Checks `cam`'s layers against `model` (ValueError naming --cam_layers) and builds the
    model that returns them, eagerly, before any tf.function traces it."""
    spec = resolve(cam)
    if spec.layers:
        model.layers_model(spec.layers)
    return spec


class ScoreMapper:
    """Images -> (logits, score maps of chosen classes) through the model's method.

    Args:
        model: a `WSOLModel` (`wsol_tf.models.build`) with its weights.
        cam: extractor name (`names()`) or `CamSpec`; default classic CAM.
    """

    def __init__(self, model, cam="classic"):
        import tensorflow as tf

        self.model = model
        self.spec = prepare(model, cam)
        self.cam = self.spec.name
        self.image_size = model.image_size
        self._extractor = build(self.spec)
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
