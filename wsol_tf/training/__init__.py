"""Training: the custom loop under a tf.distribute strategy, writing a run's workdir (its
config and checkpoints are described and read by `wsol_tf.runs`).

`train(config)` runs one training (`python -m wsol_tf.train` wraps it). Submodules import
TensorFlow; this package does not until `train` is used, so flag checks stay fast.
"""


def train(config, resume=True, print_fn=print, **options):
    """Trains the run described by a `TrainConfig`; see `wsol_tf.training.api.train`
    (options: replace, fork_from)."""
    from wsol_tf.training.api import train as _train

    return _train(config, resume=resume, print_fn=print_fn, **options)
