"""Train a WSOL model: `python -m wsol_tf.train --model=tinyvgg --dataset=synthetic ...`.

Flags are read here only; the library takes a `TrainConfig`.
"""

import os
import sys

from absl import app, flags, logging

from wsol_tf import config as config_lib
from wsol_tf import run

FLAGS = flags.FLAGS
_DEFAULTS = config_lib.TrainConfig()

flags.DEFINE_string("model", _DEFAULTS.model, "Backbone name.")
flags.DEFINE_string("dataset", _DEFAULTS.dataset, "Dataset: synthetic or cub.")
flags.DEFINE_string("data_dir", None, "Dataset folder (synthetic: cache folder, optional).")
flags.DEFINE_string("method", _DEFAULTS.method, "WSOL method: cam or adl.")
flags.DEFINE_float(
    "drop_rate", _DEFAULTS.drop_rate, "ADL drop_rate (Tensorpack keep_prob = 1 - drop_rate)."
)
flags.DEFINE_float("gamma", None, "ADL gamma; default: the backbone's paper value.")
flags.DEFINE_list("adl_positions", None, "ADL positions by layer name; default: the backbone's.")
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "Number of epochs.")
flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Global batch size.")
flags.DEFINE_float("lr", _DEFAULTS.lr, "Base learning rate.")
flags.DEFINE_enum("lr_schedule", _DEFAULTS.lr_schedule, ["step", "cosine"], "LR schedule.")
flags.DEFINE_list("lr_decay_epochs", [], "Epochs at which lr is multiplied by --lr_decay.")
flags.DEFINE_float("lr_decay", _DEFAULTS.lr_decay, "Step decay factor.")
flags.DEFINE_float("momentum", _DEFAULTS.momentum, "SGD momentum.")
flags.DEFINE_boolean("nesterov", _DEFAULTS.nesterov, "Nesterov momentum.")
flags.DEFINE_float("weight_decay", _DEFAULTS.weight_decay, "L2 weight decay on kernels.")
flags.DEFINE_string("image_size", "96", "Network input: N or H,W.")
flags.DEFINE_string("resize_size", None, "Resize before crop: N or H,W (default image*256/224).")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Random seed.")
flags.DEFINE_string("workdir", None, "Output folder (checkpoints, config.json, logs).")
flags.DEFINE_string("strategy", _DEFAULTS.strategy, "auto, one_device or mirrored.")
flags.DEFINE_integer("log_every", _DEFAULTS.log_every, "Steps between progress lines.")
flags.DEFINE_boolean("resume", True, "Continue from the workdir's latest checkpoint.")


def config_from_flags():
    workdir = FLAGS.workdir or os.path.join(
        "workdirs", f"{FLAGS.model}_{FLAGS.dataset}_{FLAGS.method}"
    )
    return config_lib.TrainConfig(
        model=FLAGS.model,
        dataset=FLAGS.dataset,
        data_dir=FLAGS.data_dir,
        method=FLAGS.method,
        drop_rate=FLAGS.drop_rate,
        gamma=FLAGS.gamma,
        positions=FLAGS.adl_positions,
        epochs=FLAGS.epochs,
        batch_size=FLAGS.batch_size,
        lr=FLAGS.lr,
        lr_schedule=FLAGS.lr_schedule,
        lr_decay_epochs=tuple(int(e) for e in FLAGS.lr_decay_epochs),
        lr_decay=FLAGS.lr_decay,
        momentum=FLAGS.momentum,
        nesterov=FLAGS.nesterov,
        weight_decay=FLAGS.weight_decay,
        image_size=FLAGS.image_size,
        resize_size=FLAGS.resize_size,
        seed=FLAGS.seed,
        workdir=workdir,
        strategy=FLAGS.strategy,
        log_every=FLAGS.log_every,
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    try:
        config = config_from_flags().validate()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    run.train(config, resume=FLAGS.resume)
    return 0


if __name__ == "__main__":
    app.run(main)
