"""Attention-based Dropout Layer (ADL, Choe & Shim, CVPR 2019)."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="wsol_tf")
class ADL(keras.layers.Layer):
    """Attention-based Dropout Layer.

    During training, the self-attention map is the channel mean of the input
    feature map. One random draw per call (per mini-batch, and per replica
    under a `tf.distribute` strategy) picks either

    - the drop mask, with probability `drop_rate`: 1 where the attention is
      below `gamma` times the sample's maximum attention, 0 on the most
      discriminative region; or
    - the importance map: `sigmoid(attention)`;

    and the input is multiplied by the chosen map, broadcast over channels.
    At inference (`training` False or None) the layer is the identity.
    It has no weights; its only state is a random seed.

    The original Tensorpack code passes `adl_keep_prob=0.25`, the probability
    of the importance map; we take `drop_rate = 1 - keep_prob = 0.75`.

    Args:
        drop_rate: float in [0, 1]. Probability of applying the drop mask in a
            training step. Defaults to 0.75 (the paper's setting).
        gamma: float in (0, 1]. Drop threshold as a fraction of the per-sample
            maximum attention; the dropped region grows as gamma falls.
            Defaults to 0.9 (the paper's ResNet setting; VGG and Inception use
            0.8, MobileNetV1 0.95).
        seed: optional int, seed of the layer's random draws.
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype, ...).

    Example:

    >>> features = keras.random.uniform((2, 14, 10, 64), seed=1)
    >>> adl = ADL(drop_rate=0.75, gamma=0.9, seed=0)
    >>> adl(features, training=True).shape
    TensorShape([2, 14, 10, 64])
    >>> bool(keras.ops.all(adl(features) == features))
    True

    Reference:
        Junsuk Choe and Hyunjung Shim, "Attention-based Dropout Layer for
        Weakly Supervised Object Localization", CVPR 2019.
    """

    def __init__(self, drop_rate=0.75, gamma=0.9, seed=None, **kwargs):
        # The layer has no variables to cast; keep the caller's dtype
        # (float16/bfloat16 inputs come back in the same dtype).
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        drop_rate = float(drop_rate)
        gamma = float(gamma)
        if not 0.0 <= drop_rate <= 1.0:
            raise ValueError(f"ADL drop_rate must be in [0, 1], got drop_rate={drop_rate}.")
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"ADL gamma must be in (0, 1], got gamma={gamma}.")
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"ADL seed must be an int or None, got seed={seed!r}.")
        self.drop_rate = drop_rate
        self.gamma = gamma
        self.seed = seed
        self.supports_masking = True
        self.seed_generator = keras.random.SeedGenerator(seed)

    def attention_maps(self, inputs):
        """Returns (drop_mask, importance_map), each (B, H, W, 1) in float32."""
        return self._drop_mask(inputs), self._importance_map(inputs)

    @staticmethod
    def _attention(inputs):
        return tf.reduce_mean(tf.cast(inputs, tf.float32), axis=-1, keepdims=True)  # (B, H, W, 1)

    def _drop_mask(self, inputs):
        attention = self._attention(inputs)
        max_attention = tf.reduce_max(attention, axis=[1, 2], keepdims=True)  # (B, 1, 1, 1)
        return tf.cast(attention < self.gamma * max_attention, tf.float32)

    def _importance_map(self, inputs):
        return tf.sigmoid(self._attention(inputs))

    def _draw_uniform(self):
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        # Each replica of a distribution strategy draws its own branch, as each
        # GPU tower did in the original: fold the replica id into the seed.
        replica_context = tf.distribute.get_replica_context()
        if replica_context is not None and replica_context.num_replicas_in_sync > 1:
            replica_id = tf.cast(replica_context.replica_id_in_sync_group, tf.int64)
            seed = tf.random.experimental.stateless_fold_in(seed, replica_id)
        return tf.random.stateless_uniform((), seed=seed, dtype=tf.float32)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        use_drop_mask = self._draw_uniform() < self.drop_rate
        # Only the drawn branch runs, forward and backward. With tf.where both maps were
        # computed and the importance map's gradient (a channel reduction and a broadcast
        # over the whole feature map) ran every step, though it is zero whenever the drop
        # mask (no gradient) is drawn: 3 steps in 4 at drop_rate 0.75. Same values.
        selected = tf.cond(
            use_drop_mask,
            lambda: self._drop_mask(inputs),
            lambda: self._importance_map(inputs),
        )
        return inputs * tf.cast(selected, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"drop_rate": self.drop_rate, "gamma": self.gamma, "seed": self.seed})
        return config
