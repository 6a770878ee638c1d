"""Moved to `wsol_tf.runs.checkpoints`; this name stays for scripts that import from here."""

from wsol_tf.runs.checkpoints import *  # noqa: F403
from wsol_tf.runs.checkpoints import load_model, restore_model  # noqa: F401
