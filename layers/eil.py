"""The erasing operation of Erasing Integrated Learning (EIL, Mai, Yang & Luo, CVPR 2020)."""

import math

import keras
import tensorflow as tf

THRESHOLD_MODES = ("relative", "absolute")


@keras.saving.register_keras_serializable(package="wsol_tf")
class EILErasing(keras.layers.Layer):
    """Erases the most activated positions of a feature map: EIL's erased branch input.

    The attention is the channel mean of the input, `M = mean_k F[..., k]` (B, H, W). The
    erasing mask is 0 where `M >= level` and 1 elsewhere, and the output is `F * mask`
    broadcast over channels. The level is either

    - "relative" (the reference code, Wayne-Mai/EIL `network/vgg_eil.py`): `threshold`
      times the sample's maximum of `M`, e.g. 0.7 * max; or
    - "absolute" (the paper's Algorithm 1, `M_avg >= gamma`): `threshold` itself.

    The mask has no gradient (a comparison); the gradient flows to `F` through the kept
    positions. The layer always erases: it is applied to the erased branch only, never on
    the model's main path (EIL's inference is the unerased branch). No weights.

    Args:
        threshold: float. The erasing level: a fraction of the per-sample maximum in
            (0, 1] ("relative", default 0.7) or the attention level itself ("absolute",
            any finite number).
        mode: "relative" (default) or "absolute", see above.
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype, ...).

    Example:

    >>> features = keras.random.uniform((2, 6, 10, 8), seed=1)
    >>> erase = EILErasing(threshold=0.7)
    >>> erase(features).shape
    TensorShape([2, 6, 10, 8])
    >>> erase.erasing_mask(features).shape  # 1 kept, 0 erased
    TensorShape([2, 6, 10, 1])

    Reference:
        Jinjie Mai, Meng Yang and Wenfeng Luo, "Erasing Integrated Learning: A Simple yet
        Effective Approach for Weakly Supervised Object Localization", CVPR 2020.
    """

    def __init__(self, threshold=0.7, mode="relative", **kwargs):
        kwargs.setdefault("autocast", False)  # no variables; keep the caller's dtype
        super().__init__(**kwargs)
        if mode not in THRESHOLD_MODES:
            raise ValueError(
                f"EILErasing mode must be one of {', '.join(THRESHOLD_MODES)}, got mode={mode!r}."
            )
        threshold = float(threshold)
        if not math.isfinite(threshold) or (mode == "relative" and not 0.0 < threshold <= 1.0):
            raise ValueError(
                "EILErasing threshold must be in (0, 1] in relative mode and finite in absolute "
                f"mode, got threshold={threshold} (mode={mode!r})."
            )
        self.threshold = threshold
        self.mode = mode
        self.supports_masking = True

    def erasing_mask(self, inputs):
        """(B, H, W, 1) float32: 0 where the channel mean reaches the level, 1 elsewhere."""
        attention = tf.reduce_mean(tf.cast(inputs, tf.float32), axis=-1, keepdims=True)
        level = self.threshold
        if self.mode == "relative":
            level = self.threshold * tf.reduce_max(attention, axis=[1, 2], keepdims=True)
        return tf.cast(attention < level, tf.float32)

    def call(self, inputs, training=None):
        return inputs * tf.cast(tf.stop_gradient(self.erasing_mask(inputs)), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"threshold": self.threshold, "mode": self.mode})
        return config
