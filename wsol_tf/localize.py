"""Localize anyone's images: `python -m wsol_tf.localize --workdir=W img.jpg dir/ --out=O`.

Prints one JSON line per image (top classes with softmax scores, the top-1 class's box in
original-image pixels) and writes an overlay PNG per image (heat map, predicted box green)
into --out. Boxes are those of the exported SavedModel (`wsol_tf.deployment.localize_ops`).
A JPEG's EXIF Orientation tag is applied first (a phone photo stored sideways is turned
upright, as every viewer shows it; `wsol_tf.data.exif`): its classes, "size", box and overlay
are in that displayed frame, and its JSON line's "exif_orientation" (always present, 1..8; 1:
none applied) says how the stored pixels were turned. --noapply_exif_orientation keeps the
stored pixels, the frame of the datasets' boxes. Alpha is dropped, not composited
(`wsol_tf.data.decode`).
A pseudo-box localizer's folder (`python -m wsol_tf.pseudo_box`, its `pseudo_box.json`) is a
--workdir too: the classes are its WSOL run's, the box its regressor's (`wsol_tf.pseudo_box.
serving`; no heat map, "cam_threshold" null; --cam, --threshold and --checkpoint refused).
A file that is not a readable image is skipped with a warning, counted and listed (stderr,
and `<out>/unreadable_files.json`, rewritten by every call: `num_skipped` 0 when none); the
exit status is 2 only when no image could be read. Overlays are named "<stem>.png" (and
"<stem>_<n>.png" for a repeated stem in the same call), so a second call replaces them. An
--out inside a given folder is not looked into for images; an --out that is a given folder, or
where an overlay would replace an input image, is refused before anything is written.
"""

import json
import os
import sys

from absl import flags, logging

from wsol_tf import cli
from wsol_tf.evaluation import flags as cam_flags
from wsol_tf.evaluation.flags import cam_request_from_flags, define_cam_flags
from wsol_tf.files import check_writable, write_json

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
flags.DEFINE_string("out", None, "Folder for the overlay PNGs (none written if unset).")
define_cam_flags(with_auto=True)
# --cam and its options are defined in wsol_tf.evaluation.flags: adopted, `--help` lists them.
flags.adopt_module_key_flags(cam_flags)
flags.DEFINE_float(
    "threshold",
    None,
    "CAM threshold (fraction of the map's maximum); default: the run's read-out chosen on "
    "validation (eval_val/readout.json), else the one best on validation for this checkpoint "
    "and --cam (eval_val/metrics.json), else 0.2.",
)
flags.DEFINE_integer("top_k", 5, "Classes listed per image.")
flags.DEFINE_boolean(
    "apply_exif_orientation",
    True,
    "Turn a JPEG as its EXIF Orientation tag says before the model, so box, size and overlay "
    'are in the frame viewers show (JSON "exif_orientation": the one applied); '
    "--noapply_exif_orientation: the stored pixels, as the datasets read them.",
)


def main(argv):
    paths = argv[1:]
    logging.set_verbosity(logging.WARNING)
    errors = []
    if not FLAGS.workdir:
        errors.append("--workdir is required.")
    if not paths:
        errors.append("give at least one image file or folder.")
    if FLAGS.threshold is not None and not 0.0 <= FLAGS.threshold < 1.0:
        errors.append(f"--threshold={FLAGS.threshold} must be in [0, 1).")
    if FLAGS.top_k < 1:
        errors.append(f"--top_k={FLAGS.top_k} must be >= 1.")
    try:
        cam, how = cam_request_from_flags()
    except ValueError as error:
        errors.append(str(error))
    if errors:
        print("error: " + " ".join(errors), file=sys.stderr)
        return 2
    if FLAGS.out:
        check_writable(FLAGS.out, "--out")
    from wsol_tf.pseudo_box import manifest as pseudo_box
    from wsol_tf.runs.checkpoints import class_names, load_model, read_run

    is_pseudo_box = pseudo_box.is_pseudo_box_dir(FLAGS.workdir)
    if is_pseudo_box:  # a pseudo-box localizer's folder (python -m wsol_tf.pseudo_box)
        given = ["--cam"] if how != "default" else []
        given += [f"--{n}" for n in ("checkpoint", "threshold") if FLAGS[n].present]
        pseudo_box.refuse_cam_options(FLAGS.workdir, given)
        pseudo_box.read_manifest(FLAGS.workdir)  # its files named before TensorFlow loads
    else:
        read_run(FLAGS.workdir)  # config.json and classes.json named before TensorFlow loads
    from wsol_tf.deployment.localizer import (
        check_out_folder,
        find_images,
        localize,
        make_scorer,
        overlay_names,
    )

    images = find_images(paths, skip=FLAGS.out)
    overlays = overlay_names(images)
    if FLAGS.out:
        check_out_folder(FLAGS.out, paths, images, overlays)
    if is_pseudo_box:
        from wsol_tf.pseudo_box.serving import PseudoBoxLocalizer, load

        classifier, regressor, manifest = load(FLAGS.workdir)
        print(f"localizer: pseudo-box regressor {manifest['regressor']}; classes: "
              f"{manifest['wsol_checkpoint']}", file=sys.stderr)  # fmt: skip
        scorer, threshold = PseudoBoxLocalizer(classifier, regressor), None
        names = class_names(manifest["wsol_run"])
    else:
        from wsol_tf.evaluation import readout

        model, config, checkpoint = load_model(FLAGS.workdir, FLAGS.checkpoint)
        cam, threshold, source = readout.resolve(
            FLAGS.workdir, checkpoint, cam, FLAGS.threshold, how
        )
        print(f"read-out: {source} (threshold {threshold:g})", file=sys.stderr)
        scorer = make_scorer(model, cam)
        names = class_names(FLAGS.workdir)
    skipped = []  # {"path", "index", "reason"}, as train and evaluate list theirs
    for index, path in enumerate(images):
        try:
            result = localize(
                scorer, names, path, cam_threshold=threshold, top_k=FLAGS.top_k,
                out_dir=FLAGS.out, overlay_name=overlays[index],
                apply_exif_orientation=FLAGS.apply_exif_orientation,
            )  # fmt: skip
        except ValueError as error:  # not a readable image: skip it, go on
            reason = str(error).removeprefix(f"{path}: ")
            skipped.append({"path": path, "index": index, "reason": reason})
            continue
        print(json.dumps(result), flush=True)
    if FLAGS.out:  # written every time: an earlier call's list must not outlive it
        write_json(
            os.path.join(FLAGS.out, "unreadable_files.json"),
            {"num_skipped": len(skipped), "skipped": skipped},
        )
    if not skipped:
        return 0
    listed = "; ".join(f"{e['path']} ({e['reason']})" for e in skipped[:10])
    more = f"; and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    if len(skipped) == len(images):
        print(f"error: no readable image: {listed}{more}", file=sys.stderr)
        return 2
    print(
        f"warning: localized {len(images) - len(skipped)} of {len(images)} images; skipped "
        f"{len(skipped)} unreadable: {listed}{more}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    cli.run(main)
