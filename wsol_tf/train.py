"""Train a WSOL model: `python -m wsol_tf.train --model=tinyvgg --dataset=synthetic ...`.

Flags are read here only; the library takes a `TrainConfig`.
"""

import sys

from absl import app, flags, logging

from wsol_tf import models, training
from wsol_tf.training import flags as train_flags

FLAGS = flags.FLAGS
# One flag per TrainConfig field and per method hyperparameter (wsol_tf.training.flags).
train_flags.define_flags(FLAGS)


def config_from_flags():
    """TrainConfig from --experiment's settings, overridden by every flag given explicitly."""
    return train_flags.config_from_flags(FLAGS)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    try:
        config = config_from_flags().validate()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if config.experiment:
        print(f"Settings of experiment {config.experiment}, overridden by the flags given.")
    try:
        training.train(config, resume=FLAGS.resume)
    except (
        FileNotFoundError,
        models.PretrainedWeightsUnavailable,
        models.TorchWeightsError,
    ) as error:
        # Missing data or weights: the message says what to do; a traceback adds nothing.
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
