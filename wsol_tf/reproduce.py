"""`make reproduce`: the ADL paper's claims at CPU scale, written to RESULTS.md.

    python -m wsol_tf.reproduce                      # every table, ~1 hour on 2 cores
    python -m wsol_tf.reproduce --tables=synthetic_adl_vs_cam --seeds=3
    python -m wsol_tf.reproduce --epochs=1 --seeds=2 # smoke run (CI)

Tables (one `wsol_tf.experiments` module each; its docstring names the paper's numbers):
synthetic_adl_vs_cam (CAM vs ADL over seeds), synthetic_table1 (drop_rate and components),
synthetic_table2 (positions), synthetic_body_evidence (CAM vs ADL as the body's class
evidence gets stronger), cub_mini (real birds, with a centered-box baseline).
Runs shared by tables are trained once. Every run keeps its workdir under
<workdir>/runs/; a killed reproduction resumes where it stopped when run again.
Writes <workdir>/results.json, the figures under --figures_dir and --results_md.
"""

import os
import shutil
import sys
import time

from absl import app, flags, logging

from wsol_tf import cli
from wsol_tf.files import check_writable

FLAGS = flags.FLAGS
TABLES = (
    "synthetic_adl_vs_cam",
    "synthetic_table1",
    "synthetic_table2",
    "synthetic_body_evidence",
    "cub_mini",
)
OVERRIDE_FLAGS = ("epochs", "steps_per_epoch", "batch_size")  # replace every run's setting
DEFAULT_CUB_MINI = os.path.join("..", "shared", "data", "CUB_200_2011_mini")


def define_flags():
    flags.DEFINE_string("workdir", "workdirs/reproduce", "Runs and results.json go here.")
    flags.DEFINE_list("tables", list(TABLES), f"Tables to run, of: {', '.join(TABLES)}.")
    flags.DEFINE_integer("seeds", 3, "Seeds (0..N-1) of the CAM vs ADL table.")
    flags.DEFINE_integer("table_seeds", 1, "Seeds of the Table 1/2 analogues and CUB mini.")
    flags.DEFINE_integer("epochs", None, "Override every run's epochs (e.g. 1 for a smoke run).")
    flags.DEFINE_integer("steps_per_epoch", None, "Override steps per epoch (smoke runs).")
    flags.DEFINE_integer("batch_size", None, "Override every run's batch size (smoke runs).")
    flags.DEFINE_string(
        "cub_dir", DEFAULT_CUB_MINI,
        "CUB-layout folder of the cub_mini table. When left at its default and missing, the "
        "table is skipped with a message.",
    )  # fmt: skip
    flags.DEFINE_string(
        "synthetic_dir", None,
        "A CUB-layout folder used instead of the embedded synthetic set (smoke tests).",
    )  # fmt: skip
    flags.DEFINE_integer("jobs", 1, "Runs trained at once (each with cores/jobs threads).")
    flags.DEFINE_string("results_md", None, "Markdown report (default <workdir>/RESULTS.md).")
    flags.DEFINE_string("figures_dir", None, "Figures (default <workdir>/figures).")
    flags.DEFINE_boolean("fresh", False, "Delete earlier runs in --workdir and train again.")


def check_flags():
    """Error messages (naming the flag) for invalid values; [] when all are valid."""
    errors = []
    unknown = [t for t in FLAGS.tables if t not in TABLES]
    if unknown or not FLAGS.tables:
        errors.append(f"--tables={','.join(FLAGS.tables)}: valid tables: {', '.join(TABLES)}.")
    for name, low in (("seeds", 1), ("table_seeds", 1), ("jobs", 1)):
        if FLAGS[name].value < low:
            errors.append(f"--{name}={FLAGS[name].value} must be >= {low}.")
    for name in OVERRIDE_FLAGS:
        if FLAGS[name].value is not None and FLAGS[name].value < 1:
            errors.append(f"--{name}={FLAGS[name].value} must be >= 1.")
    if FLAGS["cub_dir"].present and "cub_mini" in FLAGS.tables:
        if not os.path.isfile(os.path.join(FLAGS.cub_dir, "images.txt")):
            errors.append(f"--cub_dir={FLAGS.cub_dir}: no CUB layout there (images.txt).")
    if FLAGS.synthetic_dir and not os.path.isfile(os.path.join(FLAGS.synthetic_dir, "images.txt")):
        errors.append(f"--synthetic_dir={FLAGS.synthetic_dir}: no CUB layout there (images.txt).")
    return errors


def plan(tables, seeds, table_seeds, overrides, synthetic_dir, cub_dir, print_fn=print):
    """{table: [Run]} of the chosen tables (cub_mini left out when cub_dir is None)."""
    from wsol_tf.experiments import (
        cub_mini,
        synthetic_adl_vs_cam,
        synthetic_body_evidence,
        synthetic_table1,
        synthetic_table2,
    )

    synthetic = dict(overrides)
    if synthetic_dir:
        synthetic.update(dataset="cub", data_dir=os.path.abspath(synthetic_dir))
    planned = {}
    if "synthetic_adl_vs_cam" in tables:
        planned["synthetic_adl_vs_cam"] = synthetic_adl_vs_cam.runs(range(seeds), **synthetic)
    if "synthetic_table1" in tables:
        planned["synthetic_table1"] = synthetic_table1.runs(range(table_seeds), **synthetic)
    if "synthetic_table2" in tables:
        planned["synthetic_table2"] = synthetic_table2.runs(range(table_seeds), **synthetic)
    if "synthetic_body_evidence" in tables:
        planned["synthetic_body_evidence"] = synthetic_body_evidence.runs(
            range(table_seeds), **synthetic
        )
    if "cub_mini" in tables:
        if cub_dir is None:
            print_fn(f"Skipping cub_mini: no CUB mini at {DEFAULT_CUB_MINI} (pass --cub_dir).")
        else:
            planned["cub_mini"] = cub_mini.runs(
                os.path.abspath(cub_dir), range(table_seeds), **overrides
            )
    return planned


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    # ERROR: each run builds a new trainer, and TensorFlow warns about the retracing.
    logging.set_verbosity(logging.ERROR)
    errors = check_flags()
    if errors:
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        return 2
    results_md = FLAGS.results_md or os.path.join(FLAGS.workdir, "RESULTS.md")
    figures_dir = FLAGS.figures_dir or os.path.join(FLAGS.workdir, "figures")
    check_writable(FLAGS.workdir, "--workdir")  # before hours of training, not after
    check_writable(os.path.dirname(os.path.abspath(results_md)), "--results_md")
    check_writable(figures_dir, "--figures_dir")
    from wsol_tf.reproduction import runs as reproduction
    from wsol_tf.reproduction.report import write_report

    started = time.perf_counter()
    cub_dir = FLAGS.cub_dir
    if not os.path.isfile(os.path.join(cub_dir, "images.txt")):
        cub_dir = None  # only reachable with the default (explicit ones are checked above)
    overrides = {name: FLAGS[name].value for name in OVERRIDE_FLAGS if FLAGS[name].value}
    planned = plan(
        FLAGS.tables, FLAGS.seeds, FLAGS.table_seeds, overrides, FLAGS.synthetic_dir, cub_dir
    )
    if FLAGS.fresh:
        shutil.rmtree(os.path.join(FLAGS.workdir, "runs"), ignore_errors=True)
        if os.path.isfile(os.path.join(FLAGS.workdir, "results.json")):
            os.remove(os.path.join(FLAGS.workdir, "results.json"))  # its wall time too
    all_runs = [run for runs in planned.values() for run in runs]
    unique = reproduction.unique_runs(all_runs)
    print(
        f"Reproduction: {len(planned)} tables, {len(all_runs)} rows x seeds, {len(unique)} "
        f"distinct runs, {FLAGS.jobs} at a time; workdir {FLAGS.workdir}"
    )
    results = reproduction.execute(all_runs, FLAGS.workdir, jobs=FLAGS.jobs)
    command = "python -m wsol_tf.reproduce " + " ".join(argv[1:] or sys.argv[1:])
    report = write_report(
        planned,
        results,
        FLAGS.workdir,
        results_md,
        figures_dir,
        command=command.strip(),
        wall_seconds=time.perf_counter() - started,
    )
    print(report["summary"])
    print(f"Results: {results_md}, {os.path.join(FLAGS.workdir, 'results.json')}")
    print(f"Reproduction time: {(time.perf_counter() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    define_flags()
    cli.run(main)
