"""Train a WSOL model: `python -m wsol_tf.train --model=tinyvgg --dataset=synthetic ...`.

Flags are read here only; the library takes a `TrainConfig`.
"""

import dataclasses
import os
import sys

from absl import app, flags, logging

from wsol_tf import config as config_lib
from wsol_tf import experiments, models, run

FLAGS = flags.FLAGS
_DEFAULTS = config_lib.TrainConfig()

flags.DEFINE_string(
    "experiment", None,
    "Settings to start from: a wsol_tf.experiments module (e.g. table3_resnet50se_adl), 'auto' "
    "(the paper's Table 3 recipe of --model/--method/--dataset when there is one) or 'none'. "
    "Flags given explicitly override its values.",
)  # fmt: skip
flags.DEFINE_string("model", _DEFAULTS.model, "Backbone name.")
flags.DEFINE_string(
    "pretrained", None, "None, 'imagenet', or a weights file (.h5, Tensorpack .npz, torch .pth)."
)
flags.DEFINE_string(
    "dataset", _DEFAULTS.dataset,
    "synthetic, cub, imagenet, wsol_metadata, tfds_cub, tfds_pets, tfds_imagenet or folder.",
)  # fmt: skip
flags.DEFINE_string("data_dir", None, "Dataset folder (synthetic: cache folder, optional).")
flags.DEFINE_string("method", _DEFAULTS.method, "WSOL method: cam or adl.")
flags.DEFINE_float(
    "drop_rate", _DEFAULTS.drop_rate, "ADL drop_rate (Tensorpack keep_prob = 1 - drop_rate)."
)
flags.DEFINE_float("gamma", None, "ADL gamma; default: the backbone's paper value.")
flags.DEFINE_enum(
    "adl_variant", _DEFAULTS.adl_variant, ["both", "drop_mask_only", "importance_map_only"],
    "ADL components (paper Table 1): both, or one with the other branch the identity.",
)  # fmt: skip
flags.DEFINE_list("adl_positions", None, "ADL positions by layer name; default: the backbone's.")
flags.DEFINE_integer(
    "last_stride", None,
    "Stride of the last strided conv (efficientnet_lite*: 2, or 1 for a 2x finer CAM).",
)  # fmt: skip
flags.DEFINE_boolean(
    "freeze_batch_norm", False, "Keep batch norm statistics and parameters (no BN training)."
)
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
flags.DEFINE_enum(
    "train_augment", "crop_flip", ["crop_flip", "random_resized_crop"],
    "Training augmentation: Tensorpack's resize + random crop + flip, or wsolevaluation's.",
)  # fmt: skip
flags.DEFINE_enum(
    "eval_resize", "crop", ["crop", "resize"],
    "Evaluation: resize + center crop (Tensorpack) or resize to the input size (wsolevaluation).",
)  # fmt: skip
flags.DEFINE_integer("val_per_class", 0, "Hold out N training images per class as split 'val'.")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Random seed.")
flags.DEFINE_string("workdir", None, "Output folder (checkpoints, config.json, logs).")
flags.DEFINE_string("strategy", _DEFAULTS.strategy, "auto, one_device, mirrored or multi_worker.")
flags.DEFINE_integer("cpu_replicas", 0, "Split the CPU into N logical devices (mirrored on CPU).")
flags.DEFINE_integer("log_every", _DEFAULTS.log_every, "Steps between progress lines.")
flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch (default: one pass over the data).")
flags.DEFINE_integer("steps_per_loop", _DEFAULTS.steps_per_loop, "Steps per tf.function call.")
flags.DEFINE_enum("weight_decay_mode", "l2", ["l2", "decoupled"], "L2 in the loss or decoupled.")
flags.DEFINE_enum(
    "lr_groups", "none", ["none", "pretrained_0.1", "new_10"],
    "Backbone at 0.1x (Tensorpack) or new head layers at 10x (wsolevaluation).",
)  # fmt: skip
flags.DEFINE_float("warmup_epochs", 0.0, "Linear learning-rate warmup, in epochs.")
flags.DEFINE_enum(
    "precision",
    "float32",
    ["float32", "mixed_float16", "mixed_bfloat16", "float64"],
    "Compute precision (float64: slow, for numerical checks).",
)
flags.DEFINE_boolean("sync_batch_norm", True, "Batch statistics over all replicas.")
flags.DEFINE_integer("checkpoint_every_steps", 0, "Also checkpoint every N steps (0: epochs only).")
flags.DEFINE_integer("keep_checkpoints", 3, "Recent checkpoints kept.")
flags.DEFINE_string("val_split", None, "Split evaluated after each epoch to keep the best model.")
flags.DEFINE_enum(
    "best_metric", "top1_loc", ["top1_loc", "gt_known_loc", "top1_clas"], "Picks the best model."
)
flags.DEFINE_boolean("deterministic", False, "TensorFlow op determinism (bitwise reruns).")
flags.DEFINE_boolean("tensorboard", True, "Write TensorBoard summaries to <workdir>/tensorboard.")
flags.DEFINE_boolean("resume", True, "Continue from the workdir's latest checkpoint.")


# Flags whose value goes to the TrainConfig field of the same name (except
# --adl_positions -> positions).
_FIELD_OF_FLAG = {"adl_positions": "positions"}
_CONFIG_FLAGS = [f.name for f in dataclasses.fields(config_lib.TrainConfig)] + ["adl_positions"]


def config_from_flags():
    """TrainConfig from --experiment's settings, overridden by every flag given explicitly."""
    base = experiments.lookup(FLAGS.experiment, FLAGS.model, FLAGS.method, FLAGS.dataset)
    settings = dict(base or {})
    for flag in _CONFIG_FLAGS:
        if flag in ("positions", "workdir", "experiment") or flag not in FLAGS:
            continue
        # Without an experiment every flag (default or not) counts; with one, only those typed.
        if base is None or FLAGS[flag].present:
            settings[_FIELD_OF_FLAG.get(flag, flag)] = FLAGS[flag].value
    if settings.get("lr_decay_epochs") is not None:
        settings["lr_decay_epochs"] = tuple(int(e) for e in settings["lr_decay_epochs"])
    settings["workdir"] = FLAGS.workdir or os.path.join(
        "workdirs", f"{settings['model']}_{settings['dataset']}_{settings['method']}"
    )
    return config_lib.TrainConfig(**settings)


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
        run.train(config, resume=FLAGS.resume)
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
