"""Attention-based Dropout Layer (ADL, Choe & Shim, CVPR 2019)."""

import keras
import tensorflow as tf


def replica_uniform(seed_generator):
    """One U(0, 1) draw per call and replica from a Keras SeedGenerator (stateless, so a
    restored generator state draws the same). Each replica of a distribution strategy draws
    its own, as each GPU tower did in the original: the replica id is folded into the seed."""
    seed = tf.cast(seed_generator.next(), tf.int64)
    replica_context = tf.distribute.get_replica_context()
    if replica_context is not None and replica_context.num_replicas_in_sync > 1:
        replica_id = tf.cast(replica_context.replica_id_in_sync_group, tf.int64)
        seed = tf.random.experimental.stateless_fold_in(seed, replica_id)
    return tf.random.stateless_uniform((), seed=seed, dtype=tf.float32)


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
    The paper's ablation (Table 1, lower part) deactivates one component: its
    branch then passes the input through unchanged ("N/A" in the paper), e.g.
    `use_importance_map=False` applies the drop mask with probability
    `drop_rate` and the raw feature map otherwise.
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
        use_drop_mask: bool. False makes the drop branch the identity.
            Defaults to True.
        use_importance_map: bool. False makes the importance branch the
            identity. Defaults to True. At least one of the two must be True.
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

    def __init__(
        self,
        drop_rate=0.75,
        gamma=0.9,
        seed=None,
        use_drop_mask=True,
        use_importance_map=True,
        **kwargs,
    ):
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
        for name, value in (
            ("use_drop_mask", use_drop_mask),
            ("use_importance_map", use_importance_map),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"ADL {name} must be a bool, got {name}={value!r}.")
        if not (use_drop_mask or use_importance_map):
            raise ValueError(
                "ADL needs use_drop_mask or use_importance_map: with both False "
                "(use_drop_mask=False, use_importance_map=False) it would be the identity."
            )
        self.drop_rate = drop_rate
        self.gamma = gamma
        self.seed = seed
        self.use_drop_mask = use_drop_mask
        self.use_importance_map = use_importance_map
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

    def call(self, inputs, training=None):
        if not training:
            return inputs
        use_drop_mask = replica_uniform(self.seed_generator) < self.drop_rate
        # Only the drawn branch runs, forward and backward. With tf.where both maps were
        # computed and the importance map's gradient (a channel reduction and a broadcast
        # over the whole feature map) ran every step, though it is zero whenever the drop
        # mask (no gradient) is drawn: 3 steps in 4 at drop_rate 0.75. Same values.
        return tf.cond(
            use_drop_mask,
            lambda: self._drop_branch(inputs),
            lambda: self._importance_branch(inputs),
        )

    def _drop_branch(self, inputs):
        if not self.use_drop_mask:
            return tf.identity(inputs)
        return inputs * tf.cast(self._drop_mask(inputs), inputs.dtype)

    def _importance_branch(self, inputs):
        if not self.use_importance_map:
            return tf.identity(inputs)
        return inputs * tf.cast(self._importance_map(inputs), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "drop_rate": self.drop_rate,
                "gamma": self.gamma,
                "seed": self.seed,
                "use_drop_mask": self.use_drop_mask,
                "use_importance_map": self.use_importance_map,
            }
        )
        return config
