"""`make demo`: train vanilla CAM and ADL on the embedded synthetic data, evaluate, compare.

Needs no network: the dataset is generated on first use (a few seconds) into the cache.
"""

import os
import sys
import time

from absl import app, flags, logging

from wsol_tf import cli
from wsol_tf.files import check_writable, write_atomic, write_json

FLAGS = flags.FLAGS


def define_flags():
    """Only when run as a program: importing run_demo must not claim flag names that the
    train/evaluate CLIs also define."""
    flags.DEFINE_string("workdir", "workdirs/demo", "Where the two runs and the results go.")
    flags.DEFINE_integer("epochs", None, "Override the demo's epochs (e.g. 1 for a smoke run).")
    flags.DEFINE_string("data_dir", None, "Synthetic dataset cache folder (default: ~/.cache).")


COLUMNS = (("top1_clas", "Top-1 Clas"), ("gt_known_loc", "GT-known Loc"), ("top1_loc", "Top-1 Loc"))


def results_table(results):
    """Markdown table: one row per method, the paper's three accuracies (%)."""
    lines = [
        "| method | " + " | ".join(title for _, title in COLUMNS) + " | train s |",
        "|---" * (len(COLUMNS) + 2) + "|",
    ]
    for method, row in results.items():
        values = " | ".join(f"{row[key]:.2f}" for key, _ in COLUMNS)
        lines.append(f"| {method.upper()} | {values} | {row['train_seconds']:.0f} |")
    return "\n".join(lines)


def run_demo(workdir, data_dir=None, print_fn=print, **overrides):
    """Trains and evaluates both runs with the one runner; returns {method: metrics}.
    `overrides` are TrainConfig settings that shorten the runs for smoke tests (`epochs`,
    `steps_per_epoch`, `image_size`); None leaves the demo's value."""
    from wsol_tf.experiments.synthetic_demo import configs
    from wsol_tf.reproduction.runner import run_config

    overrides = {k: v for k, v in overrides.items() if v is not None}
    overrides["data_dir"] = data_dir
    results = {}
    for method, config in configs(workdir, **overrides).items():
        # A demo shows the whole run: its own folders are trained from scratch every time.
        started = time.perf_counter()
        result = run_config(config, fresh=True, replace="delete", print_fn=print_fn)
        result["train_seconds"] = time.perf_counter() - started - result["evaluate_seconds"]
        results[method] = result
        print_fn(
            f"{method.upper()}: "
            + ", ".join(f"{title} {result[key]:.2f}" for key, title in COLUMNS)
        )
    write_json(os.path.join(workdir, "results.json"), results)
    write_atomic(os.path.join(workdir, "results.md"), results_table(results) + "\n")
    return results


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    if FLAGS.epochs is not None and FLAGS.epochs < 1:
        print(f"error: --epochs={FLAGS.epochs} must be >= 1.", file=sys.stderr)
        return 2
    check_writable(FLAGS.workdir, "--workdir")
    started = time.perf_counter()
    results = run_demo(FLAGS.workdir, epochs=FLAGS.epochs, data_dir=FLAGS.data_dir)
    print()
    print("CAM vs ADL on the synthetic dataset (test split, CAM threshold 0.2, IoU >= 0.5):")
    print(results_table(results))
    for method, metrics in results.items():
        print(f"{method.upper()} overlays (GT box red, predicted green): {metrics['overlays']}")
    print(f"Results: {os.path.join(FLAGS.workdir, 'results.json')}")
    print(f"Demo time: {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    define_flags()
    cli.run(main)
