"""Moved to `wsol_tf.runs.config` (a finished run is read below both training and
evaluation); this name stays for scripts that import `TrainConfig` from here."""

from wsol_tf.runs.config import *  # noqa: F403
from wsol_tf.runs.config import TrainConfig  # noqa: F401
