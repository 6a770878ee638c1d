"""ACoL's head: two parallel classifiers, the second on features with the first's CAM erased."""

import keras
import tensorflow as tf

# The one min-max rule; a constant map becomes zeros (wsolevaluation divides by zero there;
# its NaNs then erase nothing and are never above a threshold, which zeros reproduce).
from wsol_tf.normalization import normalize_maps


def erase_above(features, attention, threshold):
    """`features` (B, h, w, K) with every position where `attention` (B, h, w) >= `threshold`
    set to zero (ACoL's erasing; the mask carries no gradient)."""
    keep = tf.stop_gradient(tf.cast(attention < threshold, features.dtype))
    return features * keep[..., None]


@keras.saving.register_keras_serializable(package="wsol_tf")
class ACoLHead(keras.layers.Layer):
    """Adversarial Complementary Learning: classifier A, and classifier B on the features
    with A's most discriminative region erased.

    Each branch is `convs` 3x3 convolutions with ReLU (wsolevaluation's classifier_A/B: two
    with 1024 channels), then a 1x1 classifier to the classes (a Dense on the map) whose
    global average is the branch's logits. Branch B sees the input features with the
    positions where A's min-max normalized class map is >= `threshold` set to zero; the class
    is the given label (training) or A's top-1 prediction. The call returns A's logits as
    "logits" and B's as "logits_b".

    `class_maps(features, classes)` is ACoL's localization map: the element-wise maximum of
    the two branches' normalized class maps, B's computed after erasing with `classes`
    (wsolevaluation's `return_cam`).

    Args:
        num_classes: int >= 1, the classifiers' outputs.
        threshold: erasing threshold delta in (0, 1] on A's normalized map.
        convs: int >= 0, 3x3 conv + ReLU layers per branch before its classifier.
        channels: int >= 1 or None, channels of those convs (None: the input's channels).
        kernel_initializer: the classifiers' kernel initializer (None: Glorot uniform).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:

    >>> head = ACoLHead(5, threshold=0.7, convs=1, channels=8)
    >>> features = keras.random.uniform((2, 7, 9, 16), seed=0)
    >>> sorted(head(features, labels=[1, 4]))
    ['logits', 'logits_b']
    >>> head.class_maps(features, [0, 3]).shape
    TensorShape([2, 7, 9])

    Reference:
        Zhang, Wei, Feng, Yang, Huang, Adversarial Complementary Learning for Weakly
        Supervised Object Localization, CVPR 2018; clovaai/wsolevaluation `wsol/method/acol.py`.
    """

    def __init__(
        self, num_classes, threshold=0.7, convs=2, channels=None, kernel_initializer=None, **kwargs
    ):
        super().__init__(**kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got num_classes={num_classes}.")
        if not 0.0 < float(threshold) <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got threshold={threshold}.")
        if int(convs) < 0:
            raise ValueError(f"convs must be >= 0, got convs={convs}.")
        if channels is not None and int(channels) < 1:
            raise ValueError(f"channels must be >= 1 or None, got channels={channels}.")
        self.num_classes = int(num_classes)
        self.threshold = float(threshold)
        self.convs = int(convs)
        self.channels = None if channels is None else int(channels)
        self.kernel_initializer = kernel_initializer
        self.gap = keras.layers.GlobalAveragePooling2D(name="gap")
        self.classifier = self._dense("classifier")
        self.classifier_b = self._dense("classifier_b")

    def _dense(self, name):
        initializer = self.kernel_initializer or "glorot_uniform"
        return keras.layers.Dense(self.num_classes, kernel_initializer=initializer, name=name)

    def build(self, features_shape):
        channels = self.channels or int(features_shape[-1])
        for branch, classifier in (("a", self.classifier), ("b", self.classifier_b)):
            shape = tuple(features_shape)
            for i in range(self.convs):
                conv = keras.layers.Conv2D(
                    channels, 3, padding="same", activation="relu", name=self._conv_name(branch, i)
                )
                conv.build(shape)
                # An attribute, not a list item: TensorFlow checkpoints track attributes (a
                # list built here would be saved only through the optimizer, and a model-only
                # restore, as the evaluator's, would miss it).
                setattr(self, self._conv_name(branch, i), conv)
                shape = (*shape[:-1], channels)
            classifier.build((shape[0], shape[-1]))
        self.built = True

    @staticmethod
    def _conv_name(branch, index):
        return f"acol_{branch}_conv{index + 1}"

    def branch_convs(self, branch):
        """The 3x3 conv layers of branch "a" or "b", in order."""
        return [getattr(self, self._conv_name(branch, i)) for i in range(self.convs)]

    def _branch(self, features, branch, classifier):
        x = features
        for conv in self.branch_convs(branch):
            x = conv(x)
        return x, classifier(self.gap(x))

    @staticmethod
    def _maps(classifier, x, classes):
        kernel = tf.cast(classifier.kernel, tf.float32)  # (K, C)
        weights = tf.transpose(tf.gather(kernel, tf.cast(classes, tf.int32), axis=1))  # (B, K)
        return tf.einsum("bhwk,bk->bhw", tf.cast(x, tf.float32), weights)

    def _both(self, features, classes):
        x_a, logits = self._branch(features, "a", self.classifier)
        if classes is None:
            classes = tf.argmax(logits, axis=-1, output_type=tf.int32)
        attention = normalize_maps(self._maps(self.classifier, x_a, classes))
        erased = erase_above(features, attention, self.threshold)
        x_b, logits_b = self._branch(erased, "b", self.classifier_b)
        return logits, logits_b, attention, x_b, classes

    def call(self, features, training=None, labels=None):
        logits, logits_b, _, _, _ = self._both(features, labels)
        return {"logits": logits, "logits_b": logits_b}

    def class_maps(self, features, classes):
        """(B, h, w) float32 maps in [0, 1]: max of A's and B's normalized CAMs of `classes`."""
        _, _, attention, x_b, classes = self._both(features, classes)
        return tf.maximum(attention, normalize_maps(self._maps(self.classifier_b, x_b, classes)))

    def compute_output_spec(self, features, labels=None):
        spec = keras.KerasTensor((features.shape[0], self.num_classes), self.compute_dtype)
        return {"logits": spec, "logits_b": spec}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "threshold": self.threshold,
                "convs": self.convs,
                "channels": self.channels,
                "kernel_initializer": keras.initializers.serialize(
                    keras.initializers.get(self.kernel_initializer)
                )
                if self.kernel_initializer is not None
                else None,
            }
        )
        return config
