"""Evaluate a training run: `python -m wsol_tf.evaluate --workdir=W [--split=test]`.

Writes W/metrics.json (Top-1 Clas, GT-known Loc, Top-1 Loc at --threshold and over
the Tensorpack sweep) and W/overlays.png (GT box red, predicted box green).
"""

import json
import sys

from absl import app, flags, logging

from wsol_tf import run

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir (holds config.json and checkpoints/).")
flags.DEFINE_string("checkpoint", None, "Checkpoint path; default: the workdir's latest.")
flags.DEFINE_string("dataset", None, "Dataset to evaluate on; default: the training dataset.")
flags.DEFINE_string("data_dir", None, "Dataset folder; default: the training one.")
flags.DEFINE_string("split", "test", "Split to evaluate.")
flags.DEFINE_float("threshold", 0.2, "CAM threshold (fraction of the map's maximum).")
flags.DEFINE_integer("batch_size", 32, "Images per forward pass.")
flags.DEFINE_string("out_dir", None, "Where metrics.json and overlays.png go; default: workdir.")
flags.mark_flag_as_required("workdir")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    if not 0.0 <= FLAGS.threshold < 1.0:
        print(f"error: --threshold={FLAGS.threshold} must be in [0, 1).", file=sys.stderr)
        return 2
    try:
        metrics = run.evaluate(
            FLAGS.workdir,
            checkpoint=FLAGS.checkpoint,
            dataset=FLAGS.dataset,
            data_dir=FLAGS.data_dir,
            split=FLAGS.split,
            cam_threshold=FLAGS.threshold,
            batch_size=FLAGS.batch_size,
            out_dir=FLAGS.out_dir,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    headline = {k: metrics[k] for k in ("top1_clas", "gt_known_loc", "top1_loc", "num_images")}
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    app.run(main)
