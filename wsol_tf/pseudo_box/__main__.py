"""Train and evaluate a pseudo-box localizer (PSOL) from a finished WSOL run:

    python -m wsol_tf.pseudo_box --run=<WSOL workdir> --out=<folder> [--epochs=30]
        [--lrs=1e-4,3e-4] [--batch_size=32] [--seed=0] [--num_pictures=8]

The run draws boxes on its own training images with the read-out and threshold it chose on
validation; a class-agnostic box regressor (the run's backbone and ImageNet weights, Dense(4))
is trained on them, one trial per learning rate; the trial with the best GT-known Loc on the
run's val split is scored on test with the run's classes. Writes <out>/metrics.json (Top-1
Clas, GT-known Loc, Top-1 Loc, box accuracy at IoU 0.3 / 0.5 / 0.7, the pseudo-boxes' source,
the trials) and <out>/overlays.png (GT red, predicted green). <out> is then a --workdir of
`python -m wsol_tf.localize` and `python -m wsol_tf.export`. Bad input: one line, exit 2.
"""

import json

from absl import app, flags, logging

from wsol_tf import cli
from wsol_tf.pseudo_box import api  # no TensorFlow: its defaults are the flags'

FLAGS = flags.FLAGS
flags.DEFINE_string("run", None, "A finished WSOL training workdir (with a val split).")
flags.DEFINE_string("out", None, "Folder of the pseudo-box localizer (replaced when earlier).")
flags.DEFINE_string(
    "checkpoint", None, "The WSOL run's checkpoint; default: its latest intact one."
)
flags.DEFINE_integer("epochs", api.DEFAULT_EPOCHS, "Training epochs of each trial.")
flags.DEFINE_list(
    "lrs", [t["name"].removeprefix("lr_") for t in api.DEFAULT_TRIALS],
    "Adam learning rates, one trial each.",
)  # fmt: skip
flags.DEFINE_integer("batch_size", 32, "Training batch size.")
flags.DEFINE_integer("steps_per_epoch", None, "Cap on the steps of an epoch (default: all).")
flags.DEFINE_integer("seed", 0, "Seed of the regressor's head, data order and augmentation.")
flags.DEFINE_integer("num_pictures", 8, "Test images drawn in overlays.png (0: none).")

HEADLINE = ("top1_clas", "gt_known_loc", "top1_loc", "box_accuracy", "maxboxacc_v2", "chosen",
            "train_seconds", "num_images")  # fmt: skip


def trials_from_flags():
    """One trial per --lrs value; ValueError naming --lrs for one that is not a number."""
    trials = []
    for text in FLAGS.lrs:
        try:
            lr = float(text)
        except ValueError:
            raise ValueError(f"--lrs: {text!r} is not a number.") from None
        trials.append({"name": f"lr_{text.strip()}", "lr": lr})
    return trials


def progress(line):
    print(line, flush=True)  # progress lines as they come, also into a file or a pipe


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)

    options = {
        "trials": trials_from_flags(), "epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size,
        "seed": FLAGS.seed, "num_pictures": FLAGS.num_pictures,
        "steps_per_epoch": FLAGS.steps_per_epoch,
    }  # fmt: skip
    api.check_inputs(FLAGS.run, FLAGS.out, checkpoint=FLAGS.checkpoint, **options)  # no TF yet
    metrics = api.run_pseudo_box(
        FLAGS.run, FLAGS.out, checkpoint=FLAGS.checkpoint, print_fn=progress, **options
    )
    print(json.dumps({k: metrics.get(k) for k in HEADLINE}))
    return 0


if __name__ == "__main__":
    cli.run(main)
