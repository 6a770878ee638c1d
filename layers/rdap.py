"""Region-based Dropout with Attention Prior (RDAP, Pattern Recognition 2021)."""

import math

import keras
import tensorflow as tf

from wsol_tf.layers.adl import replica_uniform


def square_side(height, width, size):
    """Side in feature cells of RDAP's square on an (height, width) map: `size` times the
    shorter side, rounded half up, at least 1 (plain Python, the layer's rule)."""
    return max(1, int(math.floor(size * min(height, width) + 0.5)))


@keras.saving.register_keras_serializable(package="wsol_tf")
class RDAP(keras.layers.Layer):
    """Drops a fixed-size square around the most discriminative location of a feature map.

    During training, the self-attention map is the channel mean of the input (as in ADL).
    One random draw per call (per mini-batch, and per replica under a `tf.distribute`
    strategy, ADL's convention) decides, with probability `probability`, to drop; then
    each sample loses a `side x side` square of feature cells centred on the arg-max of its
    attention map (all channels set to 0), otherwise the input passes unchanged. At inference
    (`training` False or None) the layer is the identity. No weights; its only state is a
    random seed.

    The square: `side = max(1, round_half_up(size * min(H, W)))` cells, so the same `size`
    covers the same fraction of the image at every position and input size. Its rows are
    `r - side // 2 ... r - side // 2 + side - 1` around the arg-max row `r` (centred for an
    odd side; one more cell above / left of the centre for an even side), likewise for the
    columns, and it is clipped at the borders (never shifted inward), so near a border fewer
    cells are dropped. The arg-max is the first maximum in row-major order on ties.

    Args:
        size: float in (0, 1]. Side of the square as a fraction of the map's shorter side.
            Defaults to 0.5.
        probability: float in [0, 1]. Chance that a training call drops. Defaults to 0.75
            (ADL's drop_rate).
        seed: optional int, seed of the layer's random draws.
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype, ...).

    Example:

    >>> features = keras.random.uniform((2, 12, 18, 16), seed=1)
    >>> rdap = RDAP(size=0.5, probability=1.0, seed=0)
    >>> rdap(features, training=True).shape
    TensorShape([2, 12, 18, 16])
    >>> bool(keras.ops.all(rdap(features) == features))  # inference: identity
    True

    Reference:
        Junsuk Choe et al., "Region-based dropout with attention prior for weakly
        supervised object localization", Pattern Recognition, 2021 (RDAP, PR'21 in the
        entropy notes, seed 003).
    """

    def __init__(self, size=0.5, probability=0.75, seed=None, **kwargs):
        kwargs.setdefault("autocast", False)  # no variables; keep the caller's dtype
        super().__init__(**kwargs)
        size = float(size)
        probability = float(probability)
        if not 0.0 < size <= 1.0:
            raise ValueError(f"RDAP size must be in (0, 1], got size={size}.")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"RDAP probability must be in [0, 1], got probability={probability}.")
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"RDAP seed must be an int or None, got seed={seed!r}.")
        self.size = size
        self.probability = probability
        self.seed = seed
        self.supports_masking = True
        self.seed_generator = keras.random.SeedGenerator(seed)

    def drop_mask(self, inputs):
        """(B, H, W, 1) float32: 0 on each sample's square, 1 elsewhere."""
        attention = tf.reduce_mean(tf.cast(inputs, tf.float32), axis=-1)  # (B, H, W)
        shape = tf.shape(attention)
        height, width = shape[1], shape[2]
        flat = tf.reshape(attention, [shape[0], height * width])
        index = tf.argmax(flat, axis=1, output_type=tf.int32)  # (B,)
        row, col = index // width, index % width
        shorter = tf.cast(tf.minimum(height, width), tf.float32)
        side = tf.maximum(1, tf.cast(tf.floor(self.size * shorter + 0.5), tf.int32))
        top, left = row - side // 2, col - side // 2
        rows = tf.range(height)[None, :, None]
        cols = tf.range(width)[None, None, :]
        inside = (
            (rows >= top[:, None, None])
            & (rows < top[:, None, None] + side)
            & (cols >= left[:, None, None])
            & (cols < left[:, None, None] + side)
        )
        return tf.cast(tf.logical_not(inside), tf.float32)[..., None]

    def call(self, inputs, training=None):
        if not training:
            return inputs
        drop = replica_uniform(self.seed_generator) < self.probability  # as ADL draws
        return tf.cond(
            drop,
            lambda: inputs * tf.cast(self.drop_mask(inputs), inputs.dtype),
            lambda: tf.identity(inputs),
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "probability": self.probability, "seed": self.seed})
        return config
