"""The few-shot fully supervised (FSL) baseline of a finished WSOL run.

    python -m wsol_tf.fsl --run=<finished WSOL workdir> --out=<folder> [--seed=S]
        [--checkpoint=C] [--split=test] [--batch_size=32] [--num_pictures=8]

Reads the run's config.json (dataset, data folder, --val_per_class, seed, backbone,
--pretrained, image size, preprocessing), trains a class-agnostic foreground head on the
backbone with the boxes of half of the run's validation images (per class, sorted by image
id, alternating; the other half chooses between the two trials and the CAM threshold), and
evaluates it on the test split with the evaluator every WSOL method goes through
(MaxBoxAccV2, GT-known Loc at the chosen threshold; Top-1 Clas and Top-1 Loc from the run's
own classifier). Writes <out>/metrics.json (atomically, last) and the evaluator's pictures
(GT box red, predicted green). Bad input is refused before TensorFlow loads: one line and
exit status 2 (`wsol_tf.cli`). Library: `wsol_tf.fsl.run_fsl`.
"""

import json

from absl import app, flags, logging

from wsol_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("run", None, "Workdir of a finished WSOL training run (config.json, "
                    "classes.json, checkpoints/), trained with --val_per_class.")  # fmt: skip
flags.DEFINE_string("out", None, "Folder for metrics.json and the pictures.")
flags.DEFINE_integer("seed", None, "Seed of the heads' init, shuffles, flips; default: the run's.")
flags.DEFINE_string(
    "checkpoint", None, "The WSOL checkpoint whose classifier predicts classes; default: latest."
)
flags.DEFINE_string("split", "test", "Split to evaluate on (not val: the head learns there).")
flags.DEFINE_integer("batch_size", 32, "Images per forward pass when reading and evaluating.")
flags.DEFINE_integer("num_pictures", 8, "Rows of each picture grid (0: none).")

HEADLINE = ("top1_clas", "gt_known_loc", "top1_loc", "maxboxacc", "maxboxacc_v2",
            "cam_threshold", "num_images", "num_boxes_used", "train_seconds")  # fmt: skip


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    if FLAGS.seed is not None and FLAGS.seed < 0:
        raise ValueError(f"--seed={FLAGS.seed}: must be >= 0.")
    if FLAGS.batch_size < 1:
        raise ValueError(f"--batch_size={FLAGS.batch_size}: must be >= 1.")
    if FLAGS.num_pictures < 0:
        raise ValueError(f"--num_pictures={FLAGS.num_pictures}: must be >= 0.")
    from wsol_tf.fsl import run_fsl

    metrics = run_fsl(
        FLAGS.run, FLAGS.out, seed=FLAGS.seed, checkpoint=FLAGS.checkpoint, split=FLAGS.split,
        batch_size=FLAGS.batch_size, num_pictures=FLAGS.num_pictures,
    )  # fmt: skip
    print(json.dumps({k: metrics.get(k) for k in HEADLINE}))
    return 0


if __name__ == "__main__":
    cli.run(main)
