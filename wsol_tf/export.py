"""Export a trained run as a SavedModel: `python -m wsol_tf.export --workdir=W --out=M`.

The SavedModel's ``serving_default`` maps a batch of RGB images (float, [0, 255], any size)
to class scores, the top-1 class's CAM and its box (see
``wsol_tf.deployment.saved_model``). Load it with
``tf.saved_model.load(M).signatures["serving_default"](images=...)``.

It sees the pixels it is given: for a JPEG, decoded ones are the stored pixels, EXIF
Orientation ignored (as TensorFlow's decoders do). A caller serving users' photos turns them
first, as `python -m wsol_tf.localize` does (``wsol_tf.data.exif.jpeg_exif_orientation`` and
``apply_orientation``), or its boxes are in the stored, possibly sideways, frame.

A pseudo-box localizer's folder (`python -m wsol_tf.pseudo_box`) is a --workdir too: the same
signature with its WSOL run's class scores and its regressor's box, and no ``cam`` output
(``wsol_tf.pseudo_box.serving``).
"""

import json
import os
import sys

from absl import app, flags, logging

from wsol_tf import cli
from wsol_tf.evaluation import flags as cam_flags
from wsol_tf.evaluation.flags import cam_request_from_flags, define_cam_flags
from wsol_tf.files import check_pattern_free, check_writable

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "workdir",
    None,
    "Training workdir (config.json, checkpoints/), or a pseudo-box localizer's folder "
    "(pseudo_box.json, python -m wsol_tf.pseudo_box).",
)
flags.DEFINE_string(
    "checkpoint",
    None,
    "Checkpoint path; default: the workdir's latest, or, when its files are damaged, the newest "
    "intact checkpoint kept (a warning names the damaged file). A damaged checkpoint given here "
    "is an error naming its file.",
)
flags.DEFINE_string(
    "out",
    None,
    "SavedModel folder to write; an earlier export there is replaced once the new one is "
    "complete (a kill leaves one or the other).",
)
flags.DEFINE_float(
    "threshold",
    None,
    "CAM threshold of the exported box; default: the run's read-out chosen on validation "
    "(eval_val/readout.json), else the one best on validation for this checkpoint and --cam "
    "(eval_val/metrics.json), else 0.2.",
)
define_cam_flags(with_auto=True)
# --cam and its options are defined in wsol_tf.evaluation.flags: adopted, `--help` lists them.
flags.adopt_module_key_flags(cam_flags)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    if not FLAGS.workdir or not FLAGS.out:
        print("error: --workdir and --out are required.", file=sys.stderr)
        return 2
    if FLAGS.threshold is not None and not 0.0 <= FLAGS.threshold < 1.0:
        print(f"error: --threshold={FLAGS.threshold} must be in [0, 1).", file=sys.stderr)
        return 2
    check_writable(check_pattern_free(FLAGS.out, "--out"), "--out")
    if os.path.isdir(FLAGS.out) and os.listdir(FLAGS.out):
        if not os.path.isfile(os.path.join(FLAGS.out, "saved_model.pb")):
            print(
                f"error: --out={FLAGS.out} holds files that are not a SavedModel; give a new or "
                "empty folder (an earlier export there is replaced).",
                file=sys.stderr,
            )
            return 2
    cam, how = cam_request_from_flags()  # ValueError naming the flag: one line (wsol_tf.cli)
    from wsol_tf.pseudo_box import manifest as pseudo_box
    from wsol_tf.runs.checkpoints import class_names, load_model, read_run

    if pseudo_box.is_pseudo_box_dir(FLAGS.workdir):
        return export_pseudo_box(how)
    read_run(FLAGS.workdir)  # config.json and classes.json named before TensorFlow loads
    from wsol_tf.deployment.saved_model import export
    from wsol_tf.evaluation import readout

    model, config, checkpoint = load_model(FLAGS.workdir, FLAGS.checkpoint)
    cam, threshold, source = readout.resolve(FLAGS.workdir, checkpoint, cam, FLAGS.threshold, how)
    export(model, config.image_size, FLAGS.out, threshold, cam, class_names(FLAGS.workdir))
    print(
        json.dumps(
            {
                "saved_model": FLAGS.out,
                "checkpoint": checkpoint,
                "cam": cam.describe(),
                "cam_threshold": threshold,
                "readout": source,
            }
        )
    )
    return 0


def export_pseudo_box(how):
    """A pseudo-box localizer's folder (`python -m wsol_tf.pseudo_box`): its WSOL run's class
    scores and its regressor's box (`wsol_tf.pseudo_box.serving`; no `cam` output)."""
    from wsol_tf.pseudo_box import manifest as pseudo_box
    from wsol_tf.runs.checkpoints import class_names

    given = ["--cam"] if how != "default" else []
    given += [f"--{n}" for n in ("checkpoint", "threshold") if FLAGS[n].present]
    pseudo_box.refuse_cam_options(FLAGS.workdir, given)
    pseudo_box.read_manifest(FLAGS.workdir)  # its files named before TensorFlow loads
    from wsol_tf.pseudo_box import serving

    classifier, regressor, manifest = serving.load(FLAGS.workdir)
    serving.export(classifier, regressor, FLAGS.out, class_names(manifest["wsol_run"]))
    print(
        json.dumps(
            {
                "saved_model": FLAGS.out,
                "localizer": "pseudo_box",
                "checkpoint": manifest["wsol_checkpoint"],
                "regressor": manifest["regressor"],
                "outputs": list(serving.OUTPUTS),
            }
        )
    )
    return 0


if __name__ == "__main__":
    cli.run(main)
