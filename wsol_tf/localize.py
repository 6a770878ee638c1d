"""Localize anyone's images: `python -m wsol_tf.localize --workdir=W img.jpg dir/ --out=O`.

Prints one JSON line per image (top classes with softmax scores, the top-1 class's box in
original-image pixels) and writes an overlay PNG per image (heat map, predicted box green)
into --out.
"""

import json
import sys

from absl import app, flags, logging

from wsol_tf.evaluation.flags import cam_from_flags, define_cam_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir (config.json, checkpoints/).")
flags.DEFINE_string("checkpoint", None, "Checkpoint path; default: the workdir's latest.")
flags.DEFINE_string("out", None, "Folder for the overlay PNGs (none written if unset).")
define_cam_flags()
flags.DEFINE_float("threshold", 0.2, "CAM threshold (fraction of the map's maximum).")
flags.DEFINE_integer("top_k", 5, "Classes listed per image.")


def main(argv):
    paths = argv[1:]
    logging.set_verbosity(logging.WARNING)
    errors = []
    if not FLAGS.workdir:
        errors.append("--workdir is required.")
    if not paths:
        errors.append("give at least one image file or folder.")
    if not 0.0 <= FLAGS.threshold < 1.0:
        errors.append(f"--threshold={FLAGS.threshold} must be in [0, 1).")
    if FLAGS.top_k < 1:
        errors.append(f"--top_k={FLAGS.top_k} must be >= 1.")
    try:
        cam = cam_from_flags()
    except ValueError as error:
        errors.append(str(error))
    if errors:
        print("error: " + " ".join(errors), file=sys.stderr)
        return 2
    from wsol_tf.deployment.localizer import find_images, localize, make_scorer
    from wsol_tf.training.checkpoints import class_names, load_model

    try:
        images = find_images(paths)
        model, config, _ = load_model(FLAGS.workdir, FLAGS.checkpoint)
        scorer = make_scorer(model, cam)
        names = class_names(FLAGS.workdir)
        for path in images:
            result = localize(
                scorer, names, path, cam_threshold=FLAGS.threshold, top_k=FLAGS.top_k,
                out_dir=FLAGS.out,
            )  # fmt: skip
            print(json.dumps(result), flush=True)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
