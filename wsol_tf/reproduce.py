"""`make reproduce`: the ADL paper's claims at CPU scale, written to RESULTS.md.

    python -m wsol_tf.reproduce                      # every default table, ~2.5 hours on 2 cores
    python -m wsol_tf.reproduce --tables=synthetic_adl_vs_cam --seeds=3
    python -m wsol_tf.reproduce --epochs=1 --seeds=2 # smoke run (CI)

Tables (one `wsol_tf.experiments` module each; its docstring names the paper's numbers):
synthetic_adl_vs_cam (CAM vs ADL over seeds), synthetic_table1 (drop_rate and components),
synthetic_table2 (positions), synthetic_body_evidence (CAM vs ADL as the body's class
evidence gets stronger), cub_mini (real birds, with a centered-box baseline),
methods_synthetic (every method on one backbone and budget, hyperparameters and thresholds
chosen on a validation split, several generator settings; hours on 2 cores), cub_pretrained
and methods_cub_pretrained (EfficientNet-Lite0 fine-tuned on --cub_dir), extractors (no
training: every score-map extractor on the checkpoints of --extractor_workdirs, written to
--extractors_md, see wsol_tf.reproduction.extractors_table), imagenet (no training: ImageNet
classifiers as they are, --imagenet_md), beyond_cam (FSL and the pseudo-box localizer beside
cub_recipe's CAM and the --beyond_cam_best_row runs (a row of the method ranking at its
chosen trial), written to --beyond_cam_md; hours, not a
default table; see wsol_tf.reproduction.beyond_cam).
Runs shared by tables are trained once. Every run keeps its workdir under
<workdir>/runs/; a killed reproduction resumes where it stopped when run again.
Each finished run also leaves a small record, <records_dir>/<run>.json (--records_dir,
default results/runs, committed; wsol_tf.reproduction.records): a run whose workdir is gone
(a fresh clone) is reused from its record when its settings, data (by content) and evaluation
are the same, so a long comparison resumes across clones, and `--report_only` writes the
report from the records alone. `--fresh` trains the runs again and overwrites their records.
Writes <workdir>/results.json, the figures under --figures_dir and --results_md.
One reproduction at a time writes a --workdir (its lock names the holder), and --workdir must
be new, empty or a reproduction's: a folder of other files is refused, never written into.
"""

import dataclasses
import os
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
    "methods_synthetic",
    "cub_pretrained",
    "methods_cub_pretrained",
    "cub_recipe",
    "methods_cub_25cls",
)
# Two-phase tables (`wsol_tf.reproduction.comparison.Comparison`): hyperparameters chosen on
# validation first, then the chosen setting over seeds and data settings. The CUB ones train
# on --cub_dir.
METHOD_TABLES = (
    "methods_synthetic", "cub_pretrained", "methods_cub_pretrained", "cub_recipe",
    "methods_cub_25cls",
)  # fmt: skip
# Comparisons whose data settings name their own folders (issue 27's two CUB subsets).
OWN_DATA_TABLES = ("cub_recipe", "methods_cub_25cls")
CUB_TABLES = ("cub_mini", "cub_pretrained", "methods_cub_pretrained")
# Tables that evaluate existing checkpoints instead of planning runs.
EVALUATION_TABLES = ("extractors", "imagenet")
# Tables that train (or reuse) another table's runs and write their own report, not RESULTS.md.
OWN_REPORT_TABLES = ("beyond_cam",)
DEFAULT_IMAGENET = os.path.join("..", "shared", "data", "ILSVRC2012_val_mini")
# What `make reproduce` runs unless told: the paper's tables and the real-bird CAM vs ADL
# (about 2.5 hours on 2 cores). The method comparisons take days there: `--tables=methods`.
DEFAULT_TABLES = tuple(t for t in TABLES if not t.startswith("methods_"))
# Names for several tables at once (`--tables=methods`: the method comparison on both sets).
GROUPS = {"methods": ("methods_synthetic", "methods_cub_pretrained", "methods_cub_25cls")}
# Replace every run's setting (smoke runs).
OVERRIDE_FLAGS = ("epochs", "steps_per_epoch", "batch_size", "image_size")
DEFAULT_CUB_MINI = os.path.join("..", "shared", "data", "CUB_200_2011_mini")


def define_flags():
    flags.DEFINE_string("workdir", "workdirs/reproduce", "Runs and results.json go here.")
    flags.DEFINE_list(
        "tables",
        list(DEFAULT_TABLES),
        f"Tables to run, of: {', '.join(TABLES + EVALUATION_TABLES + OWN_REPORT_TABLES)}; "
        + "; ".join(f"{k} = {','.join(v)}" for k, v in GROUPS.items()),
    )
    flags.DEFINE_list(
        "extractor_workdirs", [],
        "Trained workdirs (with a val split) whose checkpoints the extractors table evaluates.",
    )  # fmt: skip
    flags.DEFINE_string(
        "extractors_md", None, "Markdown of the extractors table (default <workdir>/EXTRACTORS.md)."
    )
    flags.DEFINE_string(
        "imagenet_dir", DEFAULT_IMAGENET,
        "ILSVRC folder (val/, bbox_val/, LOC_synset_mapping.txt) of --tables=imagenet.",
    )  # fmt: skip
    flags.DEFINE_list(
        "imagenet_models", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"],
        "Backbones with an ImageNet head that --tables=imagenet evaluates as they are.",
    )  # fmt: skip
    flags.DEFINE_string(
        "imagenet_md", None, "Markdown of the ImageNet table (default <workdir>/IMAGENET.md)."
    )
    flags.DEFINE_string(
        "beyond_cam_md", None,
        "Markdown of the beyond_cam table (default <workdir>/BEYOND_CAM.md; a JSON beside it).",
    )  # fmt: skip
    flags.DEFINE_string(
        "beyond_cam_best_row", None,
        "The WSOL row beside CAM in the beyond_cam table: a row of the method ranking at its "
        "trial chosen on validation (experiments/beyond_cam.py CHOSEN_TRIALS; default: the "
        "experiment's BEST_ROW).",
    )  # fmt: skip
    flags.DEFINE_integer(
        "extractor_scorecam_max_channels", 64,
        "Score-CAM's channel cap in the extractors table (1 + this many forward passes an image).",
    )  # fmt: skip
    flags.DEFINE_integer("seeds", 3, "Seeds (0..N-1) of the CAM vs ADL table.")
    flags.DEFINE_integer("table_seeds", 1, "Seeds of the Table 1/2 analogues and CUB mini.")
    flags.DEFINE_integer("epochs", None, "Override every run's epochs (e.g. 1 for a smoke run).")
    flags.DEFINE_integer("steps_per_epoch", None, "Override steps per epoch (smoke runs).")
    flags.DEFINE_integer("batch_size", None, "Override every run's batch size (smoke runs).")
    flags.DEFINE_integer(
        "image_size", None, "Override every run's (square) input size (smoke runs)."
    )
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
    flags.DEFINE_boolean(
        "fresh", False,
        "Delete the earlier runs in --workdir/runs (and results.json, calls.json) and train "
        "again; files there that are not this reproduction's runs are refused and kept.",
    )  # fmt: skip
    flags.DEFINE_integer("method_seeds", 3, "Seeds of the method comparison's final runs.")
    flags.DEFINE_integer(
        "method_val_per_class", None,
        "Validation images per class of the method comparison (default: the experiment's).",
    )  # fmt: skip
    flags.DEFINE_list(
        "method_rows",
        None,
        "Only these rows of the method comparisons in --tables (default: all); a comparison "
        "with none of them is skipped.",
    )
    flags.DEFINE_boolean(
        "report_only", False,
        "Train nothing: write the report from the runs already finished in --workdir or "
        "recorded in --records_dir.",
    )  # fmt: skip
    flags.DEFINE_string(
        "records_dir", os.path.join("results", "runs"),
        "Folder of the run records (one small JSON per finished run, meant to be committed): "
        "a run whose workdir is gone is reused from its record when its identity (settings, "
        "data by content, evaluation; not the workdir or data paths) is the same, and every "
        "finished run's record is written. Empty: no records. --fresh retrains and "
        "overwrites them.",
    )  # fmt: skip


def expand_groups(tables):
    """`tables` with each group name (`GROUPS`) replaced by its tables, duplicates dropped."""
    expanded = [t for name in tables for t in GROUPS.get(name, (name,))]
    return list(dict.fromkeys(expanded))


def check_flags():
    """Error messages (naming the flag) for invalid values; [] when all are valid."""
    errors = []
    FLAGS.tables = expand_groups(FLAGS.tables)
    valid = TABLES + EVALUATION_TABLES + OWN_REPORT_TABLES
    unknown = [t for t in FLAGS.tables if t not in valid]
    if unknown or not FLAGS.tables:
        errors.append(f"--tables={','.join(FLAGS.tables)}: valid tables: {', '.join(valid)}.")
    if "extractors" in FLAGS.tables:
        if not FLAGS.extractor_workdirs:
            errors.append("--tables=extractors needs --extractor_workdirs=W1,W2 (trained runs).")
        for workdir in FLAGS.extractor_workdirs:
            if not os.path.isfile(os.path.join(workdir, "config.json")):
                errors.append(f"--extractor_workdirs: {workdir} has no config.json.")
    if "imagenet" in FLAGS.tables:
        if not os.path.isdir(os.path.join(FLAGS.imagenet_dir, "val")):
            errors.append(f"--imagenet_dir={FLAGS.imagenet_dir}: no val/ folder of ILSVRC images.")
        from wsol_tf import models

        for name in FLAGS.imagenet_models:
            if name not in models.BACKBONES or models.spec(name).weights.torch is None:
                errors.append(f"--imagenet_models: {name} has no ImageNet head to evaluate.")
    if "beyond_cam" in FLAGS.tables and FLAGS.beyond_cam_best_row:
        from wsol_tf.experiments import beyond_cam

        rows = beyond_cam.COMPARISON.trials
        if FLAGS.beyond_cam_best_row not in rows:
            errors.append(
                f"--beyond_cam_best_row={FLAGS.beyond_cam_best_row}: rows of the method "
                f"ranking with a chosen trial: {', '.join(rows)}."
            )
        elif FLAGS.beyond_cam_best_row == beyond_cam.REFERENCE_ROW:
            errors.append(
                f"--beyond_cam_best_row={FLAGS.beyond_cam_best_row} is the reference row; give "
                "another WSOL row."
            )
    for name, low in (
        ("seeds", 1),
        ("table_seeds", 1),
        ("jobs", 1),
        ("method_seeds", 1),
        ("extractor_scorecam_max_channels", 0),
    ):
        if FLAGS[name].value < low:
            errors.append(f"--{name}={FLAGS[name].value} must be >= {low}.")
    for name in OVERRIDE_FLAGS:
        if FLAGS[name].value is not None and FLAGS[name].value < 1:
            errors.append(f"--{name}={FLAGS[name].value} must be >= 1.")
    if FLAGS.method_val_per_class is not None and FLAGS.method_val_per_class < 1:
        errors.append(f"--method_val_per_class={FLAGS.method_val_per_class} must be >= 1.")
    if FLAGS.method_rows:
        from wsol_tf.experiments.methods_synthetic import TRIALS  # noqa: N811

        unknown_rows = [r for r in FLAGS.method_rows if r not in TRIALS]
        if unknown_rows:
            errors.append(
                f"--method_rows: unknown row {unknown_rows[0]!r}; rows: {', '.join(TRIALS)}."
            )
    if FLAGS["cub_dir"].present and set(CUB_TABLES) & set(FLAGS.tables):
        if not os.path.isfile(os.path.join(FLAGS.cub_dir, "images.txt")):
            errors.append(f"--cub_dir={FLAGS.cub_dir}: no CUB layout there (images.txt).")
    if FLAGS.synthetic_dir and not os.path.isfile(os.path.join(FLAGS.synthetic_dir, "images.txt")):
        errors.append(f"--synthetic_dir={FLAGS.synthetic_dir}: no CUB layout there (images.txt).")
    return errors


def plan(
    tables, seeds, table_seeds, overrides, synthetic_dir, cub_dir, print_fn=print,
    method_rows=None, method_overrides=None,
):  # fmt: skip
    """{table: [Run]} of the chosen tables (cub_mini left out when cub_dir is None); a method
    comparison contributes its selection runs (`<name>_selection`) here, its final runs after
    them (`plan_final`)."""
    import importlib

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
    for name in METHOD_TABLES:
        if name not in tables:
            continue
        data = _comparison_data(name, synthetic, overrides, cub_dir)
        if data is None:
            print_fn(f"Skipping {name}: no CUB mini at {DEFAULT_CUB_MINI} (pass --cub_dir).")
            continue
        comparison = importlib.import_module(f"wsol_tf.experiments.{name}").COMPARISON
        if not comparison.data_settings:
            print_fn(f"Skipping {name}: none of its data folders is on this machine.")
            continue
        rows = None
        if method_rows:  # every comparison of --tables, not only the synthetic one
            rows = [row for row in method_rows if row in comparison.trials]
            if not rows:
                print_fn(f"Skipping {name}: none of --method_rows is one of its rows.")
                continue
        planned[f"{name}_selection"] = comparison.selection_runs(
            rows=rows, **data, **(method_overrides or {})
        )
    if "cub_mini" in tables:
        if cub_dir is None:
            print_fn(f"Skipping cub_mini: no CUB mini at {DEFAULT_CUB_MINI} (pass --cub_dir).")
        else:
            planned["cub_mini"] = cub_mini.runs(
                os.path.abspath(cub_dir), range(table_seeds), **overrides
            )
    return planned


def _comparison_data(name, synthetic, overrides, cub_dir):
    """Overrides of a comparison's runs: the CUB folder for CUB tables (None when absent)."""
    if name in OWN_DATA_TABLES:
        return dict(overrides)
    if name not in CUB_TABLES:
        return dict(synthetic)
    if cub_dir is None:
        return None
    return {**overrides, "dataset": "cub", "data_dir": os.path.abspath(cub_dir)}


def plan_final(
    planned, results, method_seeds, overrides, synthetic_dir, method_overrides=None,
    cub_dir=None,
):  # fmt: skip
    """Adds each method comparison's final runs, from its finished selection runs."""
    import importlib

    synthetic = dict(overrides)
    if synthetic_dir:
        synthetic.update(dataset="cub", data_dir=os.path.abspath(synthetic_dir))
    for name in METHOD_TABLES:
        selection = planned.get(f"{name}_selection")
        if not selection:
            continue
        comparison = importlib.import_module(f"wsol_tf.experiments.{name}").COMPARISON
        chosen = comparison.chosen_from(selection, results)
        data = _comparison_data(name, synthetic, overrides, cub_dir)
        planned[name] = comparison.final_runs(
            chosen, seeds=range(method_seeds), **data, **(method_overrides or {})
        )
    return planned


def extractors_table(argv):
    """Evaluates every extractor on --extractor_workdirs; writes the Markdown and JSON."""
    from wsol_tf.files import write_atomic, write_json
    from wsol_tf.reproduction import extractors_table as table

    started = time.perf_counter()
    cams = tuple(
        dataclasses.replace(c, scorecam_max_channels=FLAGS.extractor_scorecam_max_channels)
        if c.name == "scorecam"
        else c
        for c in table.DEFAULT_CAMS
    )
    rows = table.evaluate_extractors(FLAGS.extractor_workdirs, cams)
    path = FLAGS.extractors_md or os.path.join(FLAGS.workdir, "EXTRACTORS.md")
    command = "python -m wsol_tf.reproduce " + " ".join(argv[1:] or sys.argv[1:])
    minutes = (time.perf_counter() - started) / 60
    # Atomic, as every report: a kill or a full disk leaves the earlier table, never half one.
    write_atomic(
        path, f"Command: `{command.strip()}` ({minutes:.1f} min)\n\n" + table.markdown(rows)
    )
    write_json(os.path.splitext(path)[0] + ".json", {"rows": rows})
    print(table.markdown(rows))
    print(f"Extractors table: {path}")
    return rows


def imagenet_table(argv):
    """Every extractor of every --imagenet_models classifier on --imagenet_dir, chosen on one
    half of the images and reported on the other; writes the Markdown and JSON."""
    from wsol_tf.data.datasets import load_split
    from wsol_tf.files import write_atomic, write_json
    from wsol_tf.reproduction import imagenet_table as table

    started = time.perf_counter()
    records = load_split("imagenet", FLAGS.imagenet_dir, "val")
    rows = []
    for name in FLAGS.imagenet_models:
        rows += table.evaluate_backbone(
            name, records, out_root=os.path.join(FLAGS.workdir, "imagenet")
        )
    baseline = table.centered_box(records, (224, 224))
    path = FLAGS.imagenet_md or os.path.join(FLAGS.workdir, "IMAGENET.md")
    command = "python -m wsol_tf.reproduce " + " ".join(argv[1:] or sys.argv[1:])
    minutes = (time.perf_counter() - started) / 60
    text = table.markdown(rows, baseline, FLAGS.imagenet_dir, len(records))
    write_atomic(path, f"Command: `{command.strip()}` ({minutes:.1f} min)\n\n" + text)
    write_json(os.path.splitext(path)[0] + ".json", {"rows": rows, "centered_box": baseline})
    print(text)
    print(f"ImageNet table: {path}")
    return rows


def beyond_cam_table(argv, outputs):
    """FSL and the pseudo-box localizer beside cub_recipe's CAM and best-row runs (their own
    runs, shared); writes the Markdown and JSON. Returns whether --fresh cleared the runs."""
    from wsol_tf.experiments import beyond_cam as experiment
    from wsol_tf.files import write_atomic, write_json
    from wsol_tf.reproduction import beyond_cam as table
    from wsol_tf.reproduction import runs as reproduction

    started = time.perf_counter()
    overrides = run_overrides()
    best_row = FLAGS.beyond_cam_best_row or experiment.BEST_ROW
    runs = table.plan(
        experiment.COMPARISON, (experiment.REFERENCE_ROW, best_row), range(FLAGS.method_seeds),
        **overrides, **comparison_overrides(),
    )  # fmt: skip
    if not runs:
        print(f"Skipping beyond_cam: none of {experiment.SOURCE_TABLE}'s data folders is here.")
        return False
    reproduction.check_runs(runs, FLAGS.workdir)
    if FLAGS.fresh:  # as the other tables: the earlier runs are trained again
        reproduction.clear(FLAGS.workdir, outputs=outputs)
    settings = table.localizer_settings(experiment.FSL_TRIALS, experiment.PSEUDO_BOX, overrides)
    print(
        f"beyond_cam: {len(reproduction.unique_runs(runs))} runs of {experiment.SOURCE_TABLE} "
        f"({experiment.REFERENCE_ROW}, {best_row}), FSL and pseudo-box from each "
        f"{experiment.REFERENCE_ROW} run; workdir {FLAGS.workdir}"
    )
    built = table.build(
        runs, FLAGS.workdir, reference_row=experiment.REFERENCE_ROW, settings=settings,
        records_dir=FLAGS.records_dir or None, use_records=not FLAGS.fresh,
        reuse_only=FLAGS.report_only, jobs=FLAGS.jobs,
    )  # fmt: skip
    if FLAGS.report_only and not table.found_anything(built):
        where = f" or recorded in --records_dir={FLAGS.records_dir}" if FLAGS.records_dir else ""
        raise ValueError(
            f"--report_only: none of the beyond_cam runs has finished in "
            f"--workdir={FLAGS.workdir}{where}; nothing was written."
        )
    report = table.summarize(
        runs, built, reference_row=experiment.REFERENCE_ROW, best_row=best_row,
        targets=experiment.TARGETS, centered_box=table.centered_boxes(runs),
    )  # fmt: skip
    path = FLAGS.beyond_cam_md or os.path.join(FLAGS.workdir, "BEYOND_CAM.md")
    command = "python -m wsol_tf.reproduce " + " ".join(argv[1:] or sys.argv[1:])
    minutes = (time.perf_counter() - started) / 60
    text = table.markdown(report, experiment.SOURCE_TABLE)
    write_atomic(path, f"Command: `{command.strip()}` ({minutes:.1f} min)\n\n" + text)
    write_json(os.path.splitext(path)[0] + ".json", report)
    print(text)
    print(f"Beyond CAM table: {path}")
    return bool(FLAGS.fresh)


def run_overrides():
    """Every run's settings replaced by the smoke-run flags (--epochs, ...)."""
    overrides = {name: FLAGS[name].value for name in OVERRIDE_FLAGS if FLAGS[name].value}
    if "image_size" in overrides:  # and the resize before the crop follows it (256/224)
        overrides.update(image_size=(FLAGS.image_size,) * 2, resize_size=None)
    return overrides


def comparison_overrides():
    """The method comparisons' settings replaced by their flags (--method_val_per_class)."""
    if FLAGS.method_val_per_class is not None:
        return {"val_per_class": FLAGS.method_val_per_class}
    return {}


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
    if FLAGS.records_dir:
        check_writable(FLAGS.records_dir, "--records_dir")
    from wsol_tf.reproduction import runs as reproduction
    from wsol_tf.training import lock

    extractors_md = FLAGS.extractors_md or os.path.join(FLAGS.workdir, "EXTRACTORS.md")
    imagenet_md = FLAGS.imagenet_md or os.path.join(FLAGS.workdir, "IMAGENET.md")
    beyond_cam_md = FLAGS.beyond_cam_md or os.path.join(FLAGS.workdir, "BEYOND_CAM.md")
    if "beyond_cam" in FLAGS.tables:
        check_writable(os.path.dirname(os.path.abspath(beyond_cam_md)), "--beyond_cam_md")
    outputs = (results_md, figures_dir, extractors_md, os.path.splitext(extractors_md)[0] + ".json",
               imagenet_md, os.path.splitext(imagenet_md)[0] + ".json",
               beyond_cam_md, os.path.splitext(beyond_cam_md)[0] + ".json")  # fmt: skip
    if FLAGS.records_dir:
        outputs += (FLAGS.records_dir,)
    reproduction.check_reproduction_folder(FLAGS.workdir, "--workdir", outputs)
    # One reproduction per workdir; its runs' folders have their own locks, taken by the
    # process that trains each (with --jobs, the workers), so they never clash with this one.
    with lock.hold(FLAGS.workdir, "--workdir"):
        return reproduce(argv, outputs)


def reproduce(argv, outputs):
    """The reproduction itself, in a --workdir this process holds (`outputs`: the report's
    paths, which --fresh keeps)."""
    from wsol_tf.reproduction import runs as reproduction
    from wsol_tf.reproduction.call_log import CallLog
    from wsol_tf.reproduction.report import write_report

    started = time.perf_counter()
    if "extractors" in FLAGS.tables:
        extractors_table(argv)
    if "imagenet" in FLAGS.tables:
        imagenet_table(argv)
    cleared = False  # --fresh clears the runs once, before the first table that trains
    if "beyond_cam" in FLAGS.tables:
        cleared = beyond_cam_table(argv, outputs)
    if all(t in EVALUATION_TABLES + OWN_REPORT_TABLES for t in FLAGS.tables):
        return 0
    cub_dir = FLAGS.cub_dir
    if not os.path.isfile(os.path.join(cub_dir, "images.txt")):
        cub_dir = None  # only reachable with the default (explicit ones are checked above)
    overrides = run_overrides()
    method_settings = comparison_overrides()
    tables = [t for t in FLAGS.tables if t not in EVALUATION_TABLES + OWN_REPORT_TABLES]
    planned = plan(
        tables, FLAGS.seeds, FLAGS.table_seeds, overrides, FLAGS.synthetic_dir, cub_dir,
        method_rows=FLAGS.method_rows, method_overrides=method_settings,
    )  # fmt: skip
    all_runs = [run for runs in planned.values() for run in runs]
    reproduction.check_runs(all_runs, FLAGS.workdir)
    if FLAGS.fresh and not cleared:  # the earlier runs only: others under runs/ are refused
        reproduction.clear(FLAGS.workdir, outputs=outputs)
    unique = reproduction.unique_runs(all_runs)
    print(
        f"Reproduction: {len(planned)} tables, {len(all_runs)} rows x seeds, {len(unique)} "
        f"distinct runs, {FLAGS.jobs} at a time; workdir {FLAGS.workdir}"
    )
    command = "python -m wsol_tf.reproduce " + " ".join(argv[1:] or sys.argv[1:])
    call_log = CallLog(FLAGS.workdir, command.strip())
    # --fresh: the runs train again, and their records are overwritten, never reused.
    records = {"records_dir": FLAGS.records_dir or None, "use_records": not FLAGS.fresh}
    results = reproduction.execute(
        all_runs, FLAGS.workdir, jobs=FLAGS.jobs, reuse_only=FLAGS.report_only, call_log=call_log,
        **records,
    )  # fmt: skip
    if FLAGS.report_only and not results:
        # An empty report would overwrite the workdir's results.json (and --results_md).
        where = f" or recorded in --records_dir={FLAGS.records_dir}" if FLAGS.records_dir else ""
        raise ValueError(
            f"--report_only: none of the {len(unique)} planned runs has finished in "
            f"--workdir={FLAGS.workdir}{where} (were they run with other flags?); nothing was "
            "written."
        )
    planned = plan_final(
        planned, results, FLAGS.method_seeds, overrides, FLAGS.synthetic_dir, method_settings,
        cub_dir,
    )  # fmt: skip
    final = [r for name in METHOD_TABLES for r in planned.get(name, [])]
    # A final run with the settings and seed of a selection run (seed 0, first data setting)
    # is that run: its result is looked up by key, never trained twice.
    todo = [r for r in final if r.key not in results]
    if final:
        print(
            f"Method comparison: {len(reproduction.unique_runs(final))} final runs, "
            f"{len(reproduction.unique_runs(todo))} beyond the selection runs"
        )
        results.update(
            reproduction.execute(
                todo,
                FLAGS.workdir,
                jobs=FLAGS.jobs,
                reuse_only=FLAGS.report_only,
                call_log=call_log,
                **records,
            )
        )
    call_log.finish()
    results_md = FLAGS.results_md or os.path.join(FLAGS.workdir, "RESULTS.md")
    figures_dir = FLAGS.figures_dir or os.path.join(FLAGS.workdir, "figures")
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
