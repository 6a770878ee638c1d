"""Classification heads on a WSOL feature map; each also gives its class activation maps."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="wsol_tf")
class ClassifierHead(keras.layers.Layer):
    """Global average pooling and a dense classifier: the CAM head of every backbone.

    `class_maps` gives classic CAM, `cam_c = sum_k w[k, c] * F[..., k]` (no bias: it adds a
    constant that min-max normalization removes).

    Args:
        num_classes: int >= 1, the classifier's outputs.
        kernel_initializer: the classifier kernel's initializer (None: Glorot uniform, Keras'
            default; VGG16-GAP uses N(0, 0.01) as Tensorpack did).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:

    >>> head = ClassifierHead(5)
    >>> features = keras.random.uniform((2, 7, 9, 16), seed=0)
    >>> head(features)["logits"].shape
    TensorShape([2, 5])
    >>> head.class_maps(features, [0, 3]).shape
    TensorShape([2, 7, 9])
    """

    def __init__(self, num_classes, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got num_classes={num_classes}.")
        self.num_classes = int(num_classes)
        self.kernel_initializer = kernel_initializer
        self.gap = keras.layers.GlobalAveragePooling2D(name="gap")
        self.classifier = keras.layers.Dense(
            self.num_classes,
            kernel_initializer=kernel_initializer or "glorot_uniform",
            name="classifier",
        )

    def build(self, features_shape):
        self.gap.build(features_shape)
        self.classifier.build((features_shape[0], features_shape[-1]))
        self.built = True

    def call(self, features, training=None):
        return {"logits": self.classifier(self.gap(features))}

    def class_maps(self, features, classes):
        """(B, h, w) float32 CAMs of `classes` (B,) from `features` (B, h, w, K)."""
        kernel = tf.cast(self.classifier.kernel, tf.float32)  # (K, C)
        weights = tf.transpose(tf.gather(kernel, tf.cast(classes, tf.int32), axis=1))  # (B, K)
        return tf.einsum("bhwk,bk->bhw", tf.cast(features, tf.float32), weights)

    def compute_output_spec(self, features):
        return {
            "logits": keras.KerasTensor((features.shape[0], self.num_classes), self.compute_dtype)
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "kernel_initializer": keras.initializers.serialize(
                    keras.initializers.get(self.kernel_initializer)
                )
                if self.kernel_initializer is not None
                else None,
            }
        )
        return config
