"""Input normalization inside the model, the way each backbone's ImageNet weights expect it."""

import keras
import tensorflow as tf

# Caffe VGG/ResNet statistics, BGR order, pixel values in [0, 255].
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
# torchvision statistics, RGB order, in [0, 1]; Tensorpack feeds BGR and reverses them.
TORCH_RGB_MEAN = (0.485, 0.456, 0.406)
TORCH_RGB_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="wsol_tf")
class ImageNetPreprocessing(keras.layers.Layer):
    """Maps RGB images in [0, 255] to what a backbone's ImageNet weights were trained on.

    Modes:
    - "caffe": RGB -> BGR, then subtract the Caffe BGR mean (no scaling).
      keras.applications VGG16 and ResNet50, and Tensorpack's vgg16.npz.
    - "tf": x / 127.5 - 1, i.e. [-1, 1]. keras.applications MobileNet and
      InceptionV3.
    - "tensorpack": RGB -> BGR, x / 255, minus the torchvision mean, divided by
      the torchvision std (both reversed to BGR order). The original ADL code's
      `_image_preprocess(image, is_bgr=True)`, used with ImageNet-ResNet50-SE.npz.

    Args:
        mode: one of "caffe", "tf", "tensorpack".
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:

    >>> layer = ImageNetPreprocessing("tf")
    >>> float(layer(keras.ops.full((1, 2, 3, 3), 255.0))[0, 0, 0, 0])
    1.0

    Reference:
        keras.applications.imagenet_utils.preprocess_input; Choe & Shim's ADL
        Tensorpack code (train.py, `_image_preprocess`).
    """

    MODES = ("caffe", "tf", "tensorpack")

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"Unknown mode={mode!r}; valid modes: {', '.join(self.MODES)}.")
        self.mode = mode

    def call(self, inputs, training=None):
        x = tf.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        bgr = x[..., ::-1]
        if self.mode == "caffe":
            return bgr - tf.constant(CAFFE_BGR_MEAN, bgr.dtype)
        mean = tf.constant(TORCH_RGB_MEAN[::-1], bgr.dtype)
        std = tf.constant(TORCH_RGB_STD[::-1], bgr.dtype)
        return (bgr / 255.0 - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
