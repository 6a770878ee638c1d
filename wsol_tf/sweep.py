"""Hyperparameter sweeps: train and evaluate every point of a grid, then one results table.

    python -m wsol_tf.sweep --grid drop_rate=0.25,0.5,0.75 --grid gamma=0.8,0.9 \\
        --out workdirs/sweep -- --model=tinyvgg --dataset=synthetic --epochs=12

Each grid point is one `wsol_tf.train` run (the flags after `--` plus the point's
values) in `<out>/<name>`, then `wsol_tf.evaluate`; a point whose metrics.json
exists is not run again, so a stopped sweep continues where it stopped. Results:
`<out>/results.csv` and `<out>/results.md`, one row per point (failed points
are kept with their status).
"""

import csv
import itertools
import json
import os
import subprocess
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("grid", [], "name=v1,v2,...: a training flag and its values.")
flags.DEFINE_string("out", "workdirs/sweep", "Folder of the runs and the results table.")
flags.DEFINE_string("evaluate_args", "", "Extra flags for wsol_tf.evaluate, space separated.")

METRICS = ("top1_clas", "gt_known_loc", "top1_loc")


def parse_grid(specs):
    """["a=1,2", "b=x"] -> [("a", ["1", "2"]), ("b", ["x"])], refusing malformed specs."""
    grid = []
    for spec in specs:
        name, _, values = spec.partition("=")
        name = name.strip().lstrip("-")
        values = [v.strip() for v in values.split(",") if v.strip()]
        if not name or not values:
            raise ValueError(f"--grid={spec!r}: expected name=value1,value2,...")
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


def run_point(point, train_args, out, evaluate_args=(), python=sys.executable, print_fn=print):
    """Trains and evaluates one grid point; returns its results row."""
    name = point_name(point)
    workdir = os.path.join(out, name)
    row = {"run": name, **dict(point), "status": "ok", "seconds": 0.0}
    metrics_path = os.path.join(workdir, "metrics.json")
    if not os.path.isfile(metrics_path):
        started = time.perf_counter()
        overrides = [f"--{n}={v}" for n, v in point]
        commands = [
            [python, "-m", "wsol_tf.train", *train_args, *overrides, f"--workdir={workdir}"],
            [python, "-m", "wsol_tf.evaluate", f"--workdir={workdir}", *evaluate_args],
        ]
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "sweep.log"), "a") as log:
            for command in commands:
                print_fn("$ " + " ".join(command))
                result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
                if result.returncode:
                    row["status"] = f"failed ({command[2]} exit {result.returncode}, see sweep.log)"
                    return row
        row["seconds"] = time.perf_counter() - started
    with open(metrics_path) as f:
        metrics = json.load(f)
    row.update({key: metrics[key] for key in METRICS})
    return row


def write_tables(rows, out):
    """results.csv and results.md in `out`; returns their paths."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    csv_path, md_path = os.path.join(out, "results.csv"), os.path.join(out, "results.md")
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)

    def cell(value):
        return f"{value:.2f}" if isinstance(value, float) else ("" if value is None else str(value))

    with open(md_path, "w") as f:
        f.write("| " + " | ".join(columns) + " |\n")
        f.write("|" + "---|" * len(columns) + "\n")
        for row in rows:
            f.write("| " + " | ".join(cell(row.get(c)) for c in columns) + " |\n")
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
    os.makedirs(FLAGS.out, exist_ok=True)
    points = grid_points(grid)
    rows = []
    for i, point in enumerate(points, start=1):
        print(f"[{i}/{len(points)}] {point_name(point)}", flush=True)
        rows.append(run_point(point, train_args, FLAGS.out, FLAGS.evaluate_args.split()))
        write_tables(rows, FLAGS.out)
    csv_path, md_path = write_tables(rows, FLAGS.out)
    with open(md_path) as f:
        print(f.read())
    print(f"Results: {csv_path}, {md_path}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    app.run(main)
