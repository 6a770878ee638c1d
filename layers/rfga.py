"""Residual Fine-Grained Attention (RFGA): our interpretation of Sohn et al.'s abstract."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="wsol_tf")
class RFGA(keras.layers.Layer):
    """Element-wise attention from three views of a feature map, applied through a residual.

    **An interpretation.** RFGA's paper is known here by its abstract only (seed 002; no
    code or hyperparameters were published): "a series of mechanisms of triple-view
    attention representation, attention expansion, and feature calibration", "fine-grained
    values in an attention map by assigning different attention values for each of the
    elements", "in combination with a residual operation". Everything below that is more
    specific than those phrases is our choice:

    1. Triple-view attention representation, each view a mean of the input `F` (B, H, W, C)
       followed by a small learned 1-D convolution (the cheap ECA-style form):
       - channel view: `z_c = mean_{h,w} F` (B, C), a 1-D convolution of `kernel_size`
         across channels (one shared kernel, no bias) -> `a_c` (B, C);
       - height view: `z_h = mean_w F` (B, H, C), a depthwise `kernel_size x 1`
         convolution along H (with bias) -> `a_h` (B, H, C);
       - width view: `z_w = mean_h F` (B, W, C), a depthwise `1 x kernel_size`
         convolution along W (with bias) -> `a_w` (B, W, C).
    2. Attention expansion: each view is broadcast to the full (H, W, C) shape and they are
       summed and squashed, `A[b, h, w, c] = sigmoid(a_c[b, c] + a_h[b, h, c] + a_w[b, w, c])`,
       so every element gets its own value (not one value per channel or per location).
    3. Feature calibration through a residual connection:
       `output = F + scale * (F * A)`, with a learned per-channel `scale` (C,) initialized to
       0 (as SAGAN's attention gamma and "ReZero" residuals): the module starts as the
       identity, so it can be inserted into a pretrained backbone without disturbing it.
       With the attention branch zeroed (`scale = 0`) the output is exactly the input.

    The layer acts at training and at inference (it is part of the model).
    Parameters: `kernel_size + 2 * (kernel_size + 1) * C + C`; 9C + 3 at the default 3.

    Args:
        kernel_size: odd int >= 1, the length of the views' 1-D convolutions. Defaults to 3.
        kernel_initializer: initializer of the three convolution kernels. Defaults to
            "glorot_uniform".
        scale_initializer: initializer of the residual scale. Defaults to "zeros" (identity
            at initialization).
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype, ...).

    Example:

    >>> features = keras.random.uniform((2, 6, 10, 8), seed=1)
    >>> rfga = RFGA()
    >>> rfga(features).shape
    TensorShape([2, 6, 10, 8])
    >>> rfga.attention(features).shape  # one value per element
    TensorShape([2, 6, 10, 8])

    Reference:
        Sohn, Jeon, Jung, Kang and Suk, Residual Fine-Grained Attention (RFGA) for weakly
        supervised object localization, arXiv:2104.04952, 2021 (known here by its abstract,
        seed 002).
    """

    def __init__(
        self,
        kernel_size=3,
        kernel_initializer="glorot_uniform",
        scale_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f"RFGA kernel_size must be an odd int >= 1, got kernel_size={kernel_size!r}."
            )
        self.kernel_size = kernel_size
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.scale_initializer = keras.initializers.get(scale_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"RFGA needs a known channel count, got input_shape={input_shape}.")
        k = self.kernel_size
        self.channel_kernel = self.add_weight(
            shape=(k, 1, 1), initializer=self.kernel_initializer, name="channel_kernel"
        )
        self.height_kernel = self.add_weight(
            shape=(k, 1, channels, 1), initializer=self.kernel_initializer, name="height_kernel"
        )
        self.height_bias = self.add_weight(
            shape=(channels,), initializer="zeros", name="height_bias"
        )
        self.width_kernel = self.add_weight(
            shape=(1, k, channels, 1), initializer=self.kernel_initializer, name="width_kernel"
        )
        self.width_bias = self.add_weight(shape=(channels,), initializer="zeros", name="width_bias")
        self.scale = self.add_weight(
            shape=(channels,), initializer=self.scale_initializer, name="scale"
        )
        self.built = True

    def attention(self, inputs):
        """(B, H, W, C) element-wise attention in (0, 1), in the inputs' dtype."""
        dtype = inputs.dtype
        z_c = tf.reduce_mean(inputs, axis=[1, 2])[..., None]  # (B, C, 1)
        a_c = tf.nn.conv1d(z_c, tf.cast(self.channel_kernel, dtype), stride=1, padding="SAME")
        a_c = a_c[:, None, None, :, 0]  # (B, 1, 1, C)
        z_h = tf.reduce_mean(inputs, axis=2, keepdims=True)  # (B, H, 1, C)
        a_h = tf.nn.depthwise_conv2d(
            z_h, tf.cast(self.height_kernel, dtype), strides=[1, 1, 1, 1], padding="SAME"
        ) + tf.cast(self.height_bias, dtype)
        z_w = tf.reduce_mean(inputs, axis=1, keepdims=True)  # (B, 1, W, C)
        a_w = tf.nn.depthwise_conv2d(
            z_w, tf.cast(self.width_kernel, dtype), strides=[1, 1, 1, 1], padding="SAME"
        ) + tf.cast(self.width_bias, dtype)
        return tf.sigmoid(a_c + a_h + a_w)

    def call(self, inputs, training=None):
        scale = tf.cast(self.scale, inputs.dtype)
        return inputs + scale * (inputs * self.attention(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_size": self.kernel_size,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "scale_initializer": keras.initializers.serialize(self.scale_initializer),
            }
        )
        return config
