"""SPG's head (self-produced guidance side branches) and its guidance masks."""

import keras
import tensorflow as tf

from wsol_tf.layers.heads import ClassifierHead

# wsolevaluation's `mask_fg`: when fewer pixels than this are above the high threshold, the
# foreground is taken above 0.7 x the map's maximum instead.
MIN_FOREGROUND_PIXELS = 30
FALLBACK_RATIO = 0.7


def guidance_masks(maps, high, low, min_foreground=MIN_FOREGROUND_PIXELS):
    """SPG's self-produced guidance from (B, H, W) maps in [0, 1]: (target, valid) masks.

    Foreground (target 1) where map > `high`; when fewer than `min_foreground` pixels of an
    image pass, where map > 0.7 * its maximum instead. Background (target 0) where
    map < `low` (it wins over foreground when `low` > `high`). The rest is ignored
    (valid 0). wsolevaluation's `get_mask` (255 = ignore).

    Returns:
        (target, valid), both (B, H, W) float32 with values in {0, 1}.
    """
    maps = tf.cast(maps, tf.float32)
    foreground = maps > high
    count = tf.reduce_sum(tf.cast(foreground, tf.int32), axis=[1, 2], keepdims=True)
    peak = tf.reduce_max(maps, axis=[1, 2], keepdims=True)
    foreground = tf.where(count < min_foreground, maps > FALLBACK_RATIO * peak, foreground)
    background = maps < low
    target = tf.cast(foreground & ~background, tf.float32)
    valid = tf.cast(foreground | background, tf.float32)
    return target, valid


@keras.saving.register_keras_serializable(package="wsol_tf")
class SPGHead(ClassifierHead):
    """Self-Produced Guidance: the CAM head (GAP + dense "classifier", SPG-A4) plus SPG's
    one-channel side branches, each a map of logits at its input's resolution.

        spg_b1 = B_shared(B_1a(taps[tap_names[0]]))   B_1a: 3x3 conv + ReLU
        spg_b2 = B_shared(B_2a(taps[tap_names[1]]))   B_shared: 3x3 conv + ReLU, 1x1 conv -> 1
        spg_c  = C(features)                          C: 3x3 conv + ReLU, 1x1 conv -> 1

    B_shared's weights serve both B branches, as in wsolevaluation's `InceptionSpg`. The
    call returns "logits" and the three (B, h, w) maps; `class_maps` is the classic CAM of
    the classifier (`ClassifierHead`), SPG's localization map.

    Args:
        num_classes: int >= 1, the classifier's outputs.
        tap_names: the two backbone positions feeding B1 and B2 (keys of `taps`).
        channels: int >= 1 or None, width of the branches' 3x3 convs (None: half the
            feature map's channels; 512 on InceptionV3 as in wsolevaluation).
        kernel_initializer: the classifier kernel's initializer (None: Glorot uniform).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:

    >>> head = SPGHead(5, tap_names=("p1", "p2"), channels=8)
    >>> features = keras.random.uniform((2, 7, 9, 16), seed=0)
    >>> taps = {"p1": keras.random.uniform((2, 14, 18, 4), seed=1),
    ...         "p2": keras.random.uniform((2, 7, 9, 6), seed=2)}
    >>> out = head(features, taps=taps)
    >>> out["logits"].shape, out["spg_b1"].shape, out["spg_c"].shape
    (TensorShape([2, 5]), TensorShape([2, 14, 18]), TensorShape([2, 7, 9]))

    Reference:
        Zhang, Wei, Kang, Yang, Huang, Self-produced Guidance for Weakly-supervised Object
        Localization, ECCV 2018; clovaai/wsolevaluation `wsol/inception.py` (`InceptionSpg`).
    """

    def __init__(self, num_classes, tap_names, channels=None, kernel_initializer=None, **kwargs):
        super().__init__(num_classes, kernel_initializer=kernel_initializer, **kwargs)
        tap_names = tuple(tap_names)
        if len(tap_names) != 2:
            raise ValueError(f"tap_names must name two positions (B1, B2), got {tap_names}.")
        if channels is not None and int(channels) < 1:
            raise ValueError(f"channels must be >= 1 or None, got channels={channels}.")
        self.tap_names = tap_names
        self.channels = None if channels is None else int(channels)

    def build(self, features_shape, taps=None):
        if taps is None or any(name not in taps for name in self.tap_names):
            raise ValueError(f"SPGHead needs the shapes of taps {self.tap_names}, got {taps}.")
        super().build(features_shape)
        width = self.channels or max(1, int(features_shape[-1]) // 2)

        def conv(name, kernel, filters, shape, activation="relu"):
            layer = keras.layers.Conv2D(
                filters, kernel, padding="same", activation=activation, name=name
            )
            layer.build(tuple(shape))
            return layer

        b1_shape, b2_shape = (taps[name] for name in self.tap_names)
        self.b1a = conv("spg_b1a", 3, width, b1_shape)
        self.b2a = conv("spg_b2a", 3, width, b2_shape)
        inner = (None, None, None, width)
        self.b_shared = conv("spg_b_shared", 3, width, inner)
        self.b_out = conv("spg_b_out", 1, 1, inner, activation=None)
        self.c1 = conv("spg_c1", 3, width, features_shape)
        self.c_out = conv("spg_c_out", 1, 1, inner, activation=None)
        self.built = True

    def call(self, features, training=None, taps=None):
        b1, b2 = (taps[name] for name in self.tap_names)
        return {
            **super().call(features, training=training),
            "spg_b1": self.b_out(self.b_shared(self.b1a(b1)))[..., 0],
            "spg_b2": self.b_out(self.b_shared(self.b2a(b2)))[..., 0],
            "spg_c": self.c_out(self.c1(features))[..., 0],
        }

    def compute_output_spec(self, features, taps=None):
        spec = super().compute_output_spec(features)
        for name, tensor in (
            ("spg_b1", taps[self.tap_names[0]]),
            ("spg_b2", taps[self.tap_names[1]]),
            ("spg_c", features),
        ):
            spec[name] = keras.KerasTensor(tuple(tensor.shape[:3]), self.compute_dtype)
        return spec

    def get_config(self):
        config = super().get_config()
        config.update({"tap_names": list(self.tap_names), "channels": self.channels})
        return config
