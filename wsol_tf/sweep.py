"""Hyperparameter sweeps: train and evaluate every point of a grid, then one results table.

    python -m wsol_tf.sweep --grid drop_rate=0.25,0.5,0.75 --grid gamma=0.8,0.9 \\
        --out workdirs/sweep -- --model=tinyvgg --dataset=synthetic --epochs=12

Each grid point is one training run (the `wsol_tf.train` flags after `--` plus the point's
values) in `<out>/<name>`, then its evaluation, by the one runner
(`wsol_tf.reproduction.runner.run_config`): a point already trained and evaluated with the
same full config, data and evaluation options is reused; one trained with other settings is
moved aside and trained again (a folder of other files is refused, never moved); a stopped
sweep continues where it stopped, and one sweep at a time writes an --out. Results:
`<out>/results.csv` and `<out>/results.md`, one row per point (failed points are kept with
their status).
"""

import csv
import io
import itertools
import os
import sys
import time

from absl import flags

from wsol_tf import cli
from wsol_tf.errors import error_text
from wsol_tf.files import check_writable, listing

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("grid", [], "name=v1,v2,...: a training flag and its values.")
flags.DEFINE_string("out", "workdirs/sweep", "Folder of the runs and the results table.")
flags.DEFINE_string("evaluate_args", "", "Extra flags for wsol_tf.evaluate, space separated.")

METRICS = ("top1_clas", "gt_known_loc", "top1_loc", "maxboxacc_v2")


def parse_grid(specs):
    """["a=1,2", "b=x"] -> [("a", ["1", "2"]), ("b", ["x"])], refusing malformed specs."""
    grid = []
    for spec in specs:
        name, _, values = spec.partition("=")
        name = name.strip().lstrip("-")
        values = [v.strip() for v in values.split(",")]
        if not name or values == [""]:
            raise ValueError(f"--grid={spec!r}: expected name=value1,value2,...")
        if "" in values:
            raise ValueError(f"--grid={spec!r}: an empty value (a comma too many).")
        twice = [v for i, v in enumerate(values) if v in values[:i]]
        if twice:  # one run, listed twice in the results table
            raise ValueError(f"--grid={spec!r}: value {twice[0]} is given twice.")
        if name in ("workdir",):
            raise ValueError(f"--grid={spec!r}: {name} is set by the sweep itself.")
        if name in [n for n, _ in grid]:
            raise ValueError(f"--grid={spec!r}: {name} appears twice.")
        grid.append((name, values))
    if not grid:
        raise ValueError("--grid: give at least one, e.g. --grid drop_rate=0.5,0.75")
    return grid


def grid_points(grid):
    """Every combination, as ordered lists of (name, value)."""
    names = [name for name, _ in grid]
    return [
        list(zip(names, values, strict=True)) for values in itertools.product(*[v for _, v in grid])
    ]


def point_name(point):
    return "_".join(f"{name}-{value}" for name, value in point).replace("/", "-")


# --evaluate_args flag -> wsol_tf.evaluation.evaluate keyword.
EVALUATE_ARGS = {
    "cam": ("cam", str),
    "threshold": ("cam_threshold", float),
    "cam_curve_interval": ("cam_curve_interval", float),
    "split": ("split", str),
    "batch_size": ("batch_size", int),
    "num_pictures": ("num_pictures", int),
}


def parse_evaluate_args(args):
    """["--cam=gradcam", "--threshold=0.3"] -> {"cam": "gradcam", "cam_threshold": 0.3};
    a value out of range (an unknown --cam, --threshold=5) is refused here, before any point
    trains, not by each point's evaluation after its training."""
    from wsol_tf.evaluation import extractors
    from wsol_tf.evaluation.flags import check_options

    options = {}
    for arg in args:
        name, sep, value = arg.lstrip("-").partition("=")
        if name not in EVALUATE_ARGS or not sep:
            raise ValueError(
                f"--evaluate_args: {arg!r} is not one of --{'=, --'.join(EVALUATE_ARGS)}=<value>"
            )
        key, kind = EVALUATE_ARGS[name]
        try:
            options[key] = kind(value)
        except ValueError:
            raise ValueError(f"--evaluate_args: {arg!r}: not a {kind.__name__}") from None
    checked = {"cam_threshold": "threshold", "cam_curve_interval": "cam_curve_interval",
               "batch_size": "batch_size", "num_pictures": "num_pictures"}  # fmt: skip
    try:
        check_options(**{checked[k]: v for k, v in options.items() if k in checked})
        if "cam" in options:
            extractors.resolve(options["cam"])
    except ValueError as error:
        raise ValueError(f"--evaluate_args: {error}") from None
    return options


def point_config(point, train_args, out):
    """The TrainConfig of one grid point: train flags + the point's values + its workdir."""
    from absl import flags as absl_flags

    from wsol_tf import train_flags

    values = absl_flags.FlagValues()
    train_flags.define_flags(values)
    overrides = [f"--{n}={v}" for n, v in point]
    workdir = os.path.join(out, point_name(point))
    try:
        values(["sweep", *train_args, *overrides, f"--workdir={workdir}"])
    except absl_flags.Error as error:
        raise ValueError(f"training flags: {error}") from None
    return train_flags.config_from_flags(values)


def run_point(point, train_args, out, evaluate_args=(), print_fn=print):
    """Trains and evaluates one grid point (or reuses it); returns its results row."""
    from wsol_tf.reproduction.runner import run_config

    name = point_name(point)
    row = {"run": name, **dict(point), "status": "ok", "seconds": 0.0}
    started = time.perf_counter()
    try:
        config = point_config(point, train_args, out).validate()
        result = run_config(
            config,
            evaluation=parse_evaluate_args(evaluate_args),
            print_fn=print_fn,
            train_print_fn=lambda *_: None,
        )
    except (ValueError, OSError, FloatingPointError) as error:
        row["status"] = f"failed: {error_text(error)}"
        return row
    row["seconds"] = 0.0 if result["reused"] else time.perf_counter() - started
    row["reused"] = result["reused"]
    row.update({key: result.get(key) for key in METRICS})
    return row


def write_tables(rows, out):
    """results.csv and results.md in `out` (atomically); returns their paths."""
    from wsol_tf.files import write_atomic

    columns = list(dict.fromkeys(key for row in rows for key in row))
    csv_path, md_path = (os.path.join(out, name) for name in TABLES)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(csv_path, text.getvalue())

    def cell(value):
        return f"{value:.2f}" if isinstance(value, float) else ("" if value is None else str(value))

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    write_atomic(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path


def main(argv):
    train_args = argv[1:]
    try:
        grid = parse_grid(FLAGS.grid)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if any(a.startswith("--workdir") for a in train_args):
        print("error: the sweep sets --workdir per run; use --out.", file=sys.stderr)
        return 2
    points = grid_points(grid)
    try:
        parse_evaluate_args(FLAGS.evaluate_args.split())
        for point in points:  # every point's settings are checked before anything runs
            point_config(point, train_args, FLAGS.out).validate()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from wsol_tf.training import lock

    try:
        if lock.holder(FLAGS.out) is None:  # a busy --out is named as busy by lock.hold
            check_sweep_folder(FLAGS.out)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    check_writable(FLAGS.out, "--out")

    # One sweep per --out (results.csv is rewritten after each point); each point's run is
    # locked by the runner too, so a `train` on a point's folder meanwhile is refused.
    with lock.hold(FLAGS.out, "--out"):
        return sweep(points, train_args, FLAGS.out, FLAGS.evaluate_args.split())


TABLES = ("results.csv", "results.md")


def check_sweep_folder(out):
    """Refuses (ValueError naming them) an --out that holds files a sweep does not write: its
    tables would replace a user's results.csv, and its runs land among their files. A new or
    empty folder, or an earlier sweep's (its tables, hidden files, run folders), is fine."""
    if not os.path.isdir(out):
        return
    foreign = sorted(
        name
        for name in os.listdir(out)
        if not name.startswith(".")
        and name not in TABLES
        and not os.path.isfile(os.path.join(out, name, "config.json"))
    )
    if foreign and not any(os.path.isfile(os.path.join(out, t)) for t in TABLES):
        raise ValueError(
            f"--out={out} is not a sweep's folder: it holds {listing(foreign)}, which a sweep "
            "does not write. Nothing was changed: give a new or empty --out, or an earlier "
            "sweep's."
        )


def sweep(points, train_args, out, evaluate_args):
    """Trains and evaluates every point into `out` (which this process holds); returns the
    exit status."""
    rows = []
    for i, point in enumerate(points, start=1):
        print(f"[{i}/{len(points)}] {point_name(point)}", flush=True)
        rows.append(run_point(point, train_args, out, evaluate_args))
        write_tables(rows, out)
    csv_path, md_path = write_tables(rows, out)
    with open(md_path) as f:
        print(f.read())
    print(f"Results: {csv_path}, {md_path}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    cli.run(main)
