"""wsol_tf: weakly supervised object localization in TensorFlow 2 / Keras 3."""

import os

# Keras 3 is multi-backend; this library is TensorFlow code.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
