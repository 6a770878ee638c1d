"""Evaluate a training run or saved score maps.

    python -m wsol_tf.evaluate --workdir=W [--checkpoint=C] [--dataset=D --data_dir=P
        --split=S] [--cam=auto|classic|gradcam|gradcampp|layercam|scorecam|eigencam
        --cam_layers=a,b --cam_smooth=tta] [--threshold=T] [--cam_curve_interval=0.001]
        [--save_scoremaps=DIR]
    python -m wsol_tf.evaluate --scoremaps=DIR --dataset=D --data_dir=P --split=S --out_dir=O
    python -m wsol_tf.evaluate --model=efficientnet_lite0 [--pretrained=imagenet] \
        --dataset=imagenet --data_dir=<ILSVRC> --out_dir=O [--cam=...]   # no training run

Writes metrics.json (Top-1 Clas, GT-known Loc, Top-1 Loc at --threshold, over Tensorpack's
sweep and over the fine grid; MaxBoxAcc; MaxBoxAccV2; PxAP where masks exist; image counts)
and picture grids (overlays.png = the first images, pictures_best.png, pictures_worst.png;
GT box red, predicted green) to --out_dir (default: the workdir). The output folder is
checked before the work; bad input gets one line and exit status 2 (`wsol_tf.cli`).

The read-out: without --cam, the one the run chose on its validation split for this
checkpoint (eval_val/readout.json, written by `train` or by `--cam=auto`), else classic CAM;
`--cam=auto` chooses it first when missing (`wsol_tf.evaluation.readout`). The line
"read-out: ..." and metrics.json's "readout" say which extractor and threshold were used.

Without --checkpoint the workdir's latest checkpoint is evaluated; if its files are damaged
(truncated, garbage or missing), the newest intact one that training kept is evaluated
instead, as a resumed training run would continue from it, with a warning on stderr naming
the damaged file; metrics.json's "checkpoint" names the one evaluated. A damaged checkpoint
named by --checkpoint is an error naming its file. An empty or corrupt config.json, or one
with a field of the wrong kind, is named with the field, before TensorFlow is imported.
"""

import json
import os
import sys

from absl import app, flags, logging

from wsol_tf import cli, evaluation
from wsol_tf.evaluation import flags as cam_flags
from wsol_tf.evaluation.flags import cam_request_from_flags, define_cam_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir (config.json, checkpoints/).")
flags.DEFINE_string(
    "checkpoint", None,
    "Checkpoint path; default: the workdir's latest, or, when its files are damaged, the newest "
    "intact checkpoint kept (a warning names the damaged file). A damaged checkpoint given here "
    "is an error naming its file.",
)  # fmt: skip
flags.DEFINE_string(
    "model", None,
    "Without --workdir: evaluate this backbone's ImageNet classifier as it is (its own 1000-way "
    "head, --pretrained weights), e.g. --model=efficientnet_lite0 --dataset=imagenet.",
)  # fmt: skip
flags.DEFINE_string("pretrained", "imagenet", "With --model: 'imagenet' or a weights file.")
flags.DEFINE_string("dataset", None, "Dataset to evaluate on; default: the training dataset.")
flags.DEFINE_string("data_dir", None, "Dataset folder; default: the training one.")
flags.DEFINE_string("split", "test", "Split to evaluate.")
define_cam_flags(with_auto=True)
# --cam and its options are defined in wsol_tf.evaluation.flags: adopted, `--help` lists them.
flags.adopt_module_key_flags(cam_flags)
flags.DEFINE_float(
    "threshold",
    None,
    "CAM threshold (fraction of the map's maximum) of the headline numbers; default: the run's "
    "read-out chosen on validation, else the threshold best on validation for --cam, else 0.2.",
)
flags.DEFINE_float(
    "cam_curve_interval", 0.001, "Step of the fine threshold grid np.arange(0, 1, step)."
)
flags.DEFINE_string("scoremaps", None, "Score saved .npy maps in this folder (no model).")
flags.DEFINE_string("save_scoremaps", None, "Write the GT class's score maps here (.npy).")
flags.DEFINE_integer("batch_size", 32, "Images per forward pass.")
flags.DEFINE_integer(
    "workers", None, "Threads scanning the maps' contours (default: one per core, at most 8)."
)
flags.DEFINE_integer("num_pictures", 8, "Rows of each picture grid (0: none).")
flags.DEFINE_string("out_dir", None, "Where metrics.json and pictures go; default: workdir.")

HEADLINE = (
    "cam",
    "cam_threshold",
    "top1_clas",
    "gt_known_loc",
    "top1_loc",
    "maxboxacc",
    "maxboxacc_v2",
    "pxap",
    "num_images",
    "num_skipped",
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    cam_flags.check_options(
        threshold=0.2 if FLAGS.threshold is None else FLAGS.threshold,
        cam_curve_interval=FLAGS.cam_curve_interval,
        batch_size=FLAGS.batch_size,
        num_pictures=FLAGS.num_pictures,
        workers=FLAGS.workers,
    )  # ValueError naming the flag: one line and exit status 2 (wsol_tf.cli)
    if FLAGS.scoremaps and FLAGS.save_scoremaps:
        print("error: --scoremaps and --save_scoremaps exclude each other.", file=sys.stderr)
        return 2
    if FLAGS.model and (FLAGS.workdir or FLAGS.scoremaps):
        print("error: --model evaluates a classifier without a run: not with --workdir or "
              "--scoremaps.", file=sys.stderr)  # fmt: skip
        return 2
    if not FLAGS.workdir and not FLAGS.scoremaps and not FLAGS.model:
        print("error: give --workdir (or --scoremaps with --dataset, or --model with "
              "--dataset).", file=sys.stderr)  # fmt: skip
        return 2
    cam, how = cam_request_from_flags()  # ValueError naming the flag: one line (wsol_tf.cli)
    if FLAGS.model:
        return evaluate_classifier(cam, how)
    if FLAGS.scoremaps and how == "auto":
        print("error: --cam=auto needs a model (--workdir), not --scoremaps.", file=sys.stderr)
        return 2
    metrics = evaluation.evaluate(
        FLAGS.workdir,
        checkpoint=FLAGS.checkpoint,
        dataset=FLAGS.dataset,
        data_dir=FLAGS.data_dir,
        split=FLAGS.split,
        cam_threshold=FLAGS.threshold,
        batch_size=FLAGS.batch_size,
        out_dir=FLAGS.out_dir,
        cam=cam,
        cam_curve_interval=FLAGS.cam_curve_interval,
        scoremaps=FLAGS.scoremaps,
        save_scoremaps=FLAGS.save_scoremaps,
        num_pictures=FLAGS.num_pictures,
        workers=FLAGS.workers,
        readout=None if FLAGS.scoremaps else how,
    )
    print(json.dumps({k: metrics.get(k) for k in HEADLINE}))
    return 0


def evaluate_classifier(cam, how):
    """`--model` without a run: the backbone's ImageNet classifier on --dataset."""
    from wsol_tf.data.datasets import DATASETS

    if how == "auto":
        print("error: --cam=auto chooses on a run's validation split; with --model give a named "
              "--cam.", file=sys.stderr)  # fmt: skip
        return 2
    if not FLAGS.dataset:
        print("error: --model needs --dataset (e.g. imagenet) and --data_dir.", file=sys.stderr)
        return 2
    if FLAGS.data_dir and not os.path.isdir(FLAGS.data_dir):
        print(f"error: --data_dir={FLAGS.data_dir} is not a folder.", file=sys.stderr)
        return 2
    split = FLAGS.split
    if not FLAGS["split"].present and FLAGS.data_dir:
        present = DATASETS.get(FLAGS.dataset).splits_in(FLAGS.data_dir)
        if "test" not in present and "val" in present:
            split = "val"  # ImageNet's boxed split
    metrics = evaluation.evaluate_classifier(
        FLAGS.model, FLAGS.pretrained, FLAGS.dataset, FLAGS.data_dir, split, FLAGS.out_dir,
        cam=cam, cam_threshold=FLAGS.threshold, batch_size=FLAGS.batch_size,
        cam_curve_interval=FLAGS.cam_curve_interval, num_pictures=FLAGS.num_pictures,
        workers=FLAGS.workers,
    )  # fmt: skip
    print(json.dumps({k: metrics.get(k) for k in HEADLINE}))
    return 0


if __name__ == "__main__":
    cli.run(main)
