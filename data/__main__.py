"""`python -m wsol_tf.data check --dataset D --data_dir P [--split S] [--json out.json]`
and `python -m wsol_tf.data synthetic [--out DIR] [--body_hue_noise X ...]`.

Validates a dataset folder before training: prints per split the number of
images and classes, box statistics and unreadable files; --json writes one
record per image (split, id, class index, image size `[width, height]`, every
box `x0, y0, x1, y1` in original-image pixels). Exit status 1 when a file is
unreadable, a box is empty or outside its image, a file is listed twice (each named), a split
has no images or the train split has no image of a class (named); 2 on a
missing file, a malformed annotation or a listed path leading out of the dataset folder (one
line naming the file and line, no traceback).

`synthetic` writes the embedded dataset with non-default parameters (CUB layout, so it
trains with `--dataset=cub --data_dir=<printed folder>`); without --out it goes to the cache.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    from wsol_tf.data.datasets import DATASETS

    parser = argparse.ArgumentParser(prog="python -m wsol_tf.data")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a dataset folder")
    check.add_argument("--dataset", required=True, choices=DATASETS.names())
    check.add_argument("--data_dir", default=None, help="dataset folder (tfds: its data_dir)")
    check.add_argument("--split", action="append", help="split to check (repeatable; default all)")
    check.add_argument("--json", default=None, help="write one record per image to this file")
    check.add_argument("--val_per_class", type=int, default=None, help="cub: held-out val size")
    check.add_argument("--metadata_dir", default=None, help="wsol_metadata: metadata folder")
    check.add_argument("--image_root", default=None, help="wsol_metadata: image folder")
    check.add_argument(
        "--follow_outside_links",
        action="store_true",
        help="cub, wsol_metadata: read listed images through links leading out of the folder",
    )
    generate = commands.add_parser("synthetic", help="write a synthetic set, print its folder")
    generate.add_argument("--out", default=None, help="folder (default: the dataset cache)")
    from wsol_tf.data.synthetic import DEFAULTS

    for name, value in DEFAULTS.items():
        generate.add_argument(f"--{name}", type=type(value), default=value)
    args = parser.parse_args(argv)
    if args.command == "synthetic":
        return _synthetic(args, DEFAULTS)

    from wsol_tf.data.check import check as run_check
    from wsol_tf.data.check import problems

    options = {
        "val_per_class": args.val_per_class,
        "metadata_dir": args.metadata_dir,
        "image_root": args.image_root,
        "follow_outside_links": args.follow_outside_links or None,  # None: not an option
    }
    try:
        reports = run_check(args.dataset, args.data_dir, args.split, args.json, **options)
    except Exception as error:  # noqa: BLE001 - one line, no traceback, for any bad input
        from wsol_tf.cli import TRACEBACK_VARIABLE, one_line

        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2
    return 1 if any(problems(r, split) for split, r in reports.items()) else 0


def _synthetic(args, defaults):
    from wsol_tf.data import synthetic

    params = {name: getattr(args, name) for name in defaults}
    try:
        if args.out:
            root = synthetic.generate(args.out, **params)
        else:
            root = synthetic.ensure_synthetic(**params)
    except (FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
