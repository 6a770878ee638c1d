"""`make demo`: train vanilla CAM and ADL on the embedded synthetic data, evaluate, compare.

Needs no network: the dataset is generated on first use (a few seconds) into the cache.
"""

import json
import os
import shutil
import sys
import time

from absl import app, flags, logging

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


def run_demo(workdir, epochs=None, data_dir=None, print_fn=print):
    """Trains and evaluates both runs; returns {method: metrics}."""
    import keras

    from wsol_tf import evaluation, training
    from wsol_tf.experiments.synthetic_demo import configs

    overrides = {"data_dir": data_dir}
    if epochs is not None:
        overrides["epochs"] = epochs
    results = {}
    for method, config in configs(workdir, **overrides).items():
        # A demo shows the whole run: start from scratch, never from an old checkpoint.
        shutil.rmtree(config.workdir, ignore_errors=True)
        keras.backend.clear_session()
        started = time.perf_counter()
        training.train(config, resume=False, print_fn=print_fn)
        train_seconds = time.perf_counter() - started
        metrics = evaluation.evaluate(config.workdir, print_fn=lambda _: None)
        metrics["train_seconds"] = train_seconds
        results[method] = metrics
        print_fn(
            f"{method.upper()}: "
            + ", ".join(f"{title} {metrics[key]:.2f}" for key, title in COLUMNS)
        )
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(workdir, "results.md"), "w") as f:
        f.write(results_table(results) + "\n")
    return results


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    if FLAGS.epochs is not None and FLAGS.epochs < 1:
        print(f"error: --epochs={FLAGS.epochs} must be >= 1.", file=sys.stderr)
        return 2
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
    app.run(main)
