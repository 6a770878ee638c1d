"""Beyond CAM (issue 32): the few-shot fully supervised baseline (`wsol_tf.fsl`) and the
pseudo-box localizer (`wsol_tf.pseudo_box`) beside the WSOL runs, over data settings and seeds
(`python -m wsol_tf.reproduce --tables=beyond_cam`; experiments/beyond_cam.py).

For each data setting and seed:

1. The WSOL runs: the source comparison's final runs of the reference row (CAM) and of the
   best row (`plan`): the very `Run`s of that table (same keys, same workdirs under
   <root>/runs/, same run records), so each is trained once whichever table asks first.
2. FSL and the pseudo-box localizer of the reference run, into `<run workdir>/fsl` and
   `<run workdir>/pseudo_box`. Each localizer's metrics.json gets a stamp (`STAMP_KEY`): the
   source run's fingerprint (key, checkpoint, test metrics, read-out) and the localizer's
   settings. It is reused when that metrics.json, or its record
   `<records_dir>/beyond_cam/<kind>-<setting>-s<seed>-<run key>.json`, holds the stamp the
   run has now. A source run known only from its run record (a fresh clone: its workdir is
   gone) is trained again (`runs.train_and_evaluate(..., use_records=False)`) when a localizer
   still has to run, since the localizers need its checkpoint.
3. The table (`summarize`, `markdown`): every row at its best read-out (the WSOL runs at the
   read-out chosen on validation, `result["readout"]`), the GT boxes each used, the time per
   run, the centered box whose size is chosen on validation, and the targets (`Targets`)
   stated met or missed.

Library code: explicit arguments, no FLAGS.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re

from wsol_tf.files import read_json, write_atomic, write_json
from wsol_tf.pseudo_box.api import DEFAULT_EPOCHS
from wsol_tf.reproduction import runs as runs_lib
from wsol_tf.reproduction.runs import METRIC_TITLES, METRICS, mean_std

LOCALIZERS = ("fsl", "pseudo_box")
LOCALIZER_ROWS = {"fsl": "FSL", "pseudo_box": "pseudo-box"}
# The key of a localizer's metrics.json that says which source run and settings it is of.
STAMP_KEY = "beyond_cam"
RECORDS_SUBDIR = "beyond_cam"
IOUS = ("0.3", "0.5", "0.7")
MAXBOXACC_NA = "n/a: one box per image"
# What a localizer's entry (and record) keeps of its metrics.json.
KEPT = (
    *METRICS, "maxboxacc_v2_reason", "box_accuracy", "num_boxes_used", "num_gt_boxes_used",
    "num_images", "train_seconds", "chosen", "seed",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Targets:
    """The issue's targets, checked after the fact (nothing is chosen with them).

    Attributes:
        fsl_metric: FSL's mean over seeds must be above every WSOL row's mean.
        pseudo_box_metric, pseudo_box_margin: the pseudo-box localizer minus the reference
            run it came from, mean of the differences paired by seed, must be >= the margin.
    """

    fsl_metric: str = "maxboxacc_v2"
    pseudo_box_metric: str = "top1_loc"
    pseudo_box_margin: float = 5.0


def plan(comparison, rows, seeds, **overrides):
    """The source comparison's final runs of `rows` (the same `Run`s, keys and workdirs as its
    own final runs), each seed of `seeds`, every data setting.

    Each row must have one trial (its final runs do not depend on the selection then);
    ValueError naming the row otherwise, or for a row the comparison does not have.
    """
    rows = list(dict.fromkeys(rows))
    for row in rows:
        if row not in comparison.trials:
            raise ValueError(
                f"{comparison.name} has no row {row!r}; rows: {', '.join(comparison.trials)}."
            )
        count = len(comparison.trials[row][1])
        if count != 1:
            raise ValueError(
                f"{comparison.name}: row {row!r} has {count} trials; its final runs depend on "
                "the selection, so it cannot be a row of this table."
            )
    return comparison.final_runs({row: 0 for row in rows}, seeds=list(seeds), **overrides)


def localizer_settings(fsl_trials, pseudo_box, overrides=None) -> dict:
    """{"fsl": {"trials"}, "pseudo_box": {"trials", "epochs", "batch_size",
    "steps_per_epoch"}}; a smoke run's `overrides` (epochs, batch_size, steps_per_epoch)
    replace those of every trial."""
    overrides = overrides or {}
    trials = tuple(fsl_trials)
    changes = {name: overrides[name] for name in ("epochs", "batch_size") if overrides.get(name)}
    if changes:
        trials = tuple(dataclasses.replace(trial, **changes) for trial in trials)
    box = {"trials": tuple(pseudo_box.get("trials", ())), "epochs": DEFAULT_EPOCHS,
           "batch_size": 32, "steps_per_epoch": None, **pseudo_box}  # fmt: skip
    for name in ("epochs", "batch_size", "steps_per_epoch"):
        if overrides.get(name):
            box[name] = overrides[name]
    return {"fsl": {"trials": trials}, "pseudo_box": box}


def _jsonable(value):
    """`value` as it reads back from JSON (tuples as lists, dataclasses as dicts)."""

    def default(obj):
        if dataclasses.is_dataclass(obj):
            return dataclasses.asdict(obj)
        raise TypeError(f"not JSON: {obj!r}")

    return json.loads(json.dumps(value, default=default))


def source_fingerprint(run, result) -> dict:
    """What names one training of `run`: its key, the checkpoint its result was evaluated at,
    its test metrics and read-out (a run trained again gives another fingerprint)."""
    readout = result.get("readout") or {}
    return _jsonable({
        "run": run.key,
        "checkpoint": os.path.basename(result.get("checkpoint") or ""),
        **{metric: result.get(metric) for metric in METRICS},
        "readout": {name: readout.get(name) for name in ("cam", "threshold")},
    })  # fmt: skip


def stamp(kind, run, result, settings) -> dict:
    """The stamp a localizer of `run` must carry to be reused: the source fingerprint and its
    own settings (trials, seed, ...)."""
    own = {**settings[kind], "seed": run.seed}
    return _jsonable({"kind": kind, "source": source_fingerprint(run, result), "settings": own})


def slug(text) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def record_path(records_dir, kind, setting, seed, key) -> str:
    """`<records_dir>/beyond_cam/<kind>-<setting>-s<seed>-<run key>.json`."""
    name = f"{slug(kind)}-{slug(setting)}-s{seed}-{key}.json"
    return os.path.join(records_dir, RECORDS_SUBDIR, name)


def out_dir(root, run, kind) -> str:
    """`<run workdir>/<kind>`: the localizer's folder."""
    return os.path.join(runs_lib.run_workdir(root, run), kind)


def _entry(kind, run, setting, metrics, own_stamp, folder, reused):
    """A localizer's result as the table reads it (and its record holds)."""
    kept = {name: metrics[name] for name in KEPT if name in metrics}
    per_iou = metrics.get("maxboxacc_v2_per_iou")
    if isinstance(per_iou, dict):
        kept["maxboxacc_v2_per_iou"] = {
            iou: value.get("accuracy") if isinstance(value, dict) else value
            for iou, value in per_iou.items()
        }
    # The whole call: FSL's total_seconds, the pseudo-box localizer's seconds.
    kept["seconds"] = metrics.get("total_seconds", metrics.get("seconds"))
    kept["checkpoint"] = os.path.basename(metrics.get("checkpoint") or "")
    row, _ = _split(run.row)
    return _jsonable({
        "kind": kind, "key": run.key, "table": run.table, "row": row, "setting": setting,
        "seed": run.seed, "stamp": own_stamp, "metrics": kept, "out_dir": folder,
        "reused": reused,
    })  # fmt: skip


def _split(label):
    row, _, setting = label.partition(" | ")
    return row, setting


def find_localizer(kind, run, setting, root, own_stamp, records_dir=None):
    """The localizer's entry when its folder's metrics.json (reused: True) or, given
    `records_dir`, its record (reused: "record") carries `own_stamp`; else None."""
    folder = out_dir(root, run, kind)
    metrics = read_json(os.path.join(folder, "metrics.json"))
    if isinstance(metrics, dict) and metrics.get(STAMP_KEY) == own_stamp:
        return _entry(kind, run, setting, metrics, own_stamp, folder, True)
    if records_dir:
        path = record_path(records_dir, kind, setting, run.seed, run.key)
        record = read_json(path, dict)
        if record is not None and record.get("stamp") == own_stamp:
            return {**record, "reused": "record", "record_file": path}
    return None


def write_localizer_record(records_dir, entry) -> str:
    """Writes (atomically; an unchanged one is left) the entry's record; returns its path."""
    # No paths of this machine: the same localizer gives the same record on every clone.
    record = {k: v for k, v in entry.items() if k not in ("reused", "record_file", "out_dir")}
    path = record_path(records_dir, entry["kind"], entry["setting"], entry["seed"], entry["key"])
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return path
    return write_atomic(path, text)


def _checkpoint(workdir, result):
    """The checkpoint the run's result was evaluated at, in its workdir now (None: the
    latest)."""
    name = os.path.basename(result.get("checkpoint") or "")
    path = os.path.join(workdir, "checkpoints", name)
    return path if name and os.path.isfile(path + ".index") else None


def run_localizer(kind, run, result, root, settings, own_stamp, print_fn=print) -> dict:
    """Trains and evaluates one localizer of the finished `run` (its workdir and checkpoint);
    its metrics.json gets `own_stamp`. Returns the entry."""
    from wsol_tf import fsl, pseudo_box

    workdir = runs_lib.run_workdir(root, run)
    folder = out_dir(root, run, kind)
    checkpoint = _checkpoint(workdir, result)
    if kind == "fsl":
        metrics = fsl.run_fsl(
            workdir, folder, trials=settings["fsl"]["trials"], seed=run.seed,
            checkpoint=checkpoint, print_fn=print_fn,
        )  # fmt: skip
    elif kind == "pseudo_box":
        box = settings["pseudo_box"]
        metrics = pseudo_box.run_pseudo_box(
            workdir, folder, trials=box["trials"], seed=run.seed, epochs=box["epochs"],
            batch_size=box["batch_size"], steps_per_epoch=box["steps_per_epoch"],
            checkpoint=checkpoint, print_fn=print_fn,
        )  # fmt: skip
    else:
        raise ValueError(f"unknown localizer {kind!r}; valid: {', '.join(LOCALIZERS)}.")
    metrics = {**(read_json(os.path.join(folder, "metrics.json"), dict) or metrics)}
    metrics[STAMP_KEY] = own_stamp
    write_json(os.path.join(folder, "metrics.json"), metrics)
    return _entry(kind, run, _split(run.row)[1], metrics, own_stamp, folder, False)


def build(
    runs, root, *, reference_row, settings, records_dir=None, use_records=True,
    reuse_only=False, jobs=1, print_fn=print,
):  # fmt: skip
    """The WSOL runs and the localizers of the reference row's runs.

    Args:
        runs: `plan`'s runs.
        root: the reproduction's --workdir (runs under root/runs/).
        reference_row: the row whose runs the localizers are trained from.
        settings: `localizer_settings`.
        records_dir: the run records' folder (None: none); the localizers' records go to
            its beyond_cam/ folder.
        use_records: False (--fresh): records are written, never reused.
        reuse_only: train nothing (--report_only): what is finished or recorded.
        jobs: WSOL runs trained at once (`runs.execute`).
        print_fn: progress lines.

    Returns:
        {"results": {run key: WSOL result}, "localizers": {kind: {run key: entry}}}.
    """
    results = runs_lib.execute(
        runs, root, jobs=jobs, print_fn=print_fn, reuse_only=reuse_only,
        records_dir=records_dir, use_records=use_records,
    )  # fmt: skip
    found_in = records_dir if use_records else None
    localizers = {kind: {} for kind in LOCALIZERS}
    for run in runs_lib.unique_runs(runs):
        row, setting = _split(run.row)
        result = results.get(run.key)
        if row != reference_row or result is None or result.get("diverged"):
            continue
        entries = _find_all(run, setting, root, result, settings, found_in)
        missing = [kind for kind, entry in entries.items() if entry is None]
        if missing and not reuse_only and result.get("reused") == "record":
            # Known from its record only: the localizers need its checkpoint.
            print_fn(
                f"{run.table} / {run.row} seed {run.seed}: its workdir is gone and "
                f"{' and '.join(LOCALIZER_ROWS[k] for k in missing)} "
                f"need{'s' if len(missing) == 1 else ''} its checkpoint: training it again"
            )
            result = runs_lib.train_and_evaluate(
                run, root, print_fn=print_fn, records_dir=records_dir, use_records=False
            )
            results[run.key] = result
            if result.get("diverged"):
                continue
            entries = _find_all(run, setting, root, result, settings, found_in)
        for kind in LOCALIZERS:
            entry = entries[kind]
            if entry is None and not reuse_only:
                print_fn(f"{LOCALIZER_ROWS[kind]} of {run.table} / {run.row} seed {run.seed} ...")
                own = stamp(kind, run, result, settings)
                entry = run_localizer(kind, run, result, root, settings, own, print_fn)
            if entry is None:
                continue
            if records_dir and entry["reused"] != "record":
                write_localizer_record(records_dir, entry)
            localizers[kind][run.key] = entry
            what = {False: "trained", True: "reused", "record": "reused from its record"}
            print_fn(
                f"{LOCALIZER_ROWS[kind]} of {run.row} seed {run.seed}: "
                + ", ".join(
                    f"{METRIC_TITLES[m]} {entry['metrics'][m]:.2f}"
                    for m in METRICS if entry["metrics"].get(m) is not None
                )
                + f" ({what[entry['reused']]})"
            )  # fmt: skip
    return {"results": results, "localizers": localizers}


def _find_all(run, setting, root, result, settings, records_dir):
    """{kind: entry or None} of every localizer of `run` as it is finished now."""
    return {
        kind: find_localizer(
            kind, run, setting, root, stamp(kind, run, result, settings), records_dir
        )
        for kind in LOCALIZERS
    }


def centered_boxes(runs) -> dict:
    """{setting: the centered box of its data, size chosen on val
    (`methods_report.centered_box_on_val_and_test`)}."""
    from wsol_tf.reproduction import methods_report
    from wsol_tf.runs.config import TrainConfig

    boxes = {}
    for run in runs:
        _, setting = _split(run.row)
        if setting not in boxes:
            config = TrainConfig.from_settings(**{**run.settings, "seed": run.seed})
            boxes[setting] = methods_report.centered_box_on_val_and_test(config)
    return boxes


def _new_row(source):
    return {"source": source, "seeds": [], "values": {m: [] for m in METRICS},
            "box_accuracy": {iou: [] for iou in IOUS}, "gt_boxes_used": [], "seconds": [],
            "readouts": [], "diverged": [], "missing": []}  # fmt: skip


def _wsol_values(result):
    """(metrics, read-out description) of a WSOL run at its best read-out: the one chosen on
    validation when the run has it, else classic CAM at the val-chosen threshold."""
    from wsol_tf.reproduction.methods_report import val_chosen

    readout = result.get("readout")
    if readout:
        return {m: readout.get(m) for m in METRICS}, f"{readout['cam']} @ {readout['threshold']:g}"
    chosen = val_chosen(result)
    return {m: chosen[m] for m in METRICS}, f"classic @ {chosen['tau']:g}"


def summarize(runs, built, *, reference_row, best_row, targets, centered_box=None) -> dict:
    """The table as JSON: {"settings": {setting: {"rows": {row: ...}, "centered_box",
    "targets"}}, "reference_row", "best_row", "targets"}; each row's lists follow its
    "seeds" (a run not finished is under "missing", a diverged one under "diverged")."""
    results, localizers = built["results"], built["localizers"]
    settings = {}
    for run in runs:
        row, setting = _split(run.row)
        if row not in (reference_row, best_row):
            continue
        rows = settings.setdefault(setting, {"rows": {}})["rows"]
        for name in (reference_row, best_row, *LOCALIZER_ROWS.values()):
            rows.setdefault(name, _new_row("WSOL" if name in (reference_row, best_row)
                                           else f"the {reference_row} run"))  # fmt: skip
        result = results.get(run.key)
        wsol = rows[row]
        if result is None:
            wsol["missing"].append(run.seed)
        elif result.get("diverged"):
            wsol["diverged"].append(run.seed)
        else:
            values, readout = _wsol_values(result)
            wsol["seeds"].append(run.seed)
            for metric in METRICS:
                wsol["values"][metric].append(values[metric])
            wsol["gt_boxes_used"].append(0)
            wsol["seconds"].append(result.get("train_seconds"))
            wsol["readouts"].append(readout)
        if row != reference_row:
            continue
        for kind, name in LOCALIZER_ROWS.items():
            entry = localizers[kind].get(run.key)
            target = rows[name]
            if entry is None:
                (target["diverged"] if result and result.get("diverged") else target["missing"]
                 ).append(run.seed)  # fmt: skip
                continue
            metrics = entry["metrics"]
            target["seeds"].append(run.seed)
            for metric in METRICS:
                target["values"][metric].append(metrics.get(metric))
            for iou in IOUS:
                target["box_accuracy"][iou].append((metrics.get("box_accuracy") or {}).get(iou))
            target["gt_boxes_used"].append(metrics.get("num_boxes_used"))
            target["seconds"].append(metrics.get("seconds"))
    for setting, table in settings.items():
        table["centered_box"] = (centered_box or {}).get(setting)
        table["targets"] = verdicts(table["rows"], reference_row, best_row, targets)
    return {
        "reference_row": reference_row, "best_row": best_row,
        "targets": dataclasses.asdict(targets), "settings": settings,
    }  # fmt: skip


def _mean(values):
    return mean_std(values)[0]


def verdicts(rows, reference_row, best_row, targets) -> dict:
    """{"fsl": {...}, "pseudo_box": {...}}, each with "verdict" met / missed / unknown (a row
    without a finished seed) and the numbers it was decided on."""
    metric = targets.fsl_metric
    fsl = _mean(rows["FSL"]["values"][metric])
    wsol = {row: _mean(rows[row]["values"][metric])
            for row in dict.fromkeys((reference_row, best_row))}  # fmt: skip
    known = math.isfinite(fsl) and all(math.isfinite(v) for v in wsol.values())
    fsl_verdict = "unknown"
    if known:
        fsl_verdict = "met" if all(fsl > value for value in wsol.values()) else "missed"
    metric = targets.pseudo_box_metric
    box, reference = rows["pseudo-box"], rows[reference_row]
    by_seed = dict(zip(reference["seeds"], reference["values"][metric], strict=True))
    paired = [
        (seed, value - by_seed[seed])
        for seed, value in zip(box["seeds"], box["values"][metric], strict=True)
        if seed in by_seed and value is not None and by_seed[seed] is not None
    ]
    difference = _mean([d for _, d in paired])
    box_verdict = "unknown"
    if math.isfinite(difference):
        box_verdict = "met" if difference >= targets.pseudo_box_margin else "missed"
    return {
        "fsl": {"metric": targets.fsl_metric, "fsl": fsl, "wsol": wsol, "verdict": fsl_verdict},
        "pseudo_box": {
            "metric": metric, "margin": targets.pseudo_box_margin, "over": reference_row,
            "seeds": [s for s, _ in paired], "differences": [d for _, d in paired],
            "mean_difference": difference, "verdict": box_verdict,
        },
    }  # fmt: skip


def _cell(values, digits=1):
    """Mean ± std over the finite values: the method report's cell."""
    from wsol_tf.reproduction import methods_report

    return methods_report._cell(*methods_report._mean_std(values), digits=digits)


def _counts(values):
    """'0', '125' or '120–125' (the GT boxes a row used, over its seeds)."""
    values = sorted({int(v) for v in values if v is not None})
    if not values:
        return "–"
    return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"


def _seeds(row):
    text = ", ".join(str(s) for s in row["seeds"]) or "–"
    if row["diverged"]:
        text += f" (diverged: {', '.join(str(s) for s in row['diverged'])})"
    if row["missing"]:
        text += f" (not finished: {', '.join(str(s) for s in row['missing'])})"
    return text


def table_lines(table, reference_row, best_row) -> list:
    """One data setting's Markdown table."""
    lines = [
        "| row | Top-1 Clas | GT-known Loc | Top-1 Loc | MaxBoxAccV2 | box accuracy at IoU 0.3 / "
        "0.5 / 0.7 | GT boxes used | s per run | seeds | read-out |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = table["rows"]
    for name, row in rows.items():
        if name in (reference_row, best_row):
            label, how = f"{name} (WSOL)", _readouts(row["readouts"])
        elif name == "FSL":
            label = f"FSL (from the {reference_row} run)"
            how = "foreground head on boxed val images, trial and threshold chosen on the others"
        else:
            label = f"pseudo-box (from the {reference_row} run)"
            how = f"box regressor on the {reference_row} run's pseudo-boxes"
        cells = [_cell(row["values"][m]) for m in ("top1_clas", "gt_known_loc", "top1_loc")]
        if name == "pseudo-box":
            cells.append(MAXBOXACC_NA)
            cells.append(" / ".join(_cell(row["box_accuracy"][iou]) for iou in IOUS))
        else:
            cells += [_cell(row["values"]["maxboxacc_v2"]), "–"]
        cells += [_counts(row["gt_boxes_used"]), _cell(row["seconds"], 0), _seeds(row), how]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    box = table.get("centered_box")
    if box:
        lines.append(
            f"| centered box (size chosen on val: {box['val_fraction']:.2f} of each side) | – | "
            f"{box['test_at_val']:.1f} | – | – | – | 0 | – | – | – |"
        )
    return lines


def _readouts(readouts):
    counts = {}
    for text in readouts:
        counts[text] = counts.get(text, 0) + 1
    return "; ".join(f"{t} (x{n})" if n > 1 else t for t, n in counts.items()) or "–"


def target_lines(verdict, reference_row) -> list:
    """The targets, each met / missed / not known yet, with their numbers."""
    fsl, box = verdict["fsl"], verdict["pseudo_box"]
    title = METRIC_TITLES[fsl["metric"]]
    if fsl["verdict"] == "unknown":
        first = "not known yet (FSL or a WSOL row has no finished seed)"
    else:
        others = ", ".join(f"{row} {value:.1f}" for row, value in fsl["wsol"].items())
        first = f"FSL {fsl['fsl']:.1f} vs {others}: **{fsl['verdict']}**"
    title_box = METRIC_TITLES[box["metric"]]
    if box["verdict"] == "unknown":
        second = f"not known yet (no seed with both the pseudo-box and the {reference_row} run)"
    else:
        per_seed = ", ".join(f"{d:+.1f}" for d in box["differences"])
        seeds = ", ".join(str(s) for s in box["seeds"])
        second = (
            f"{box['mean_difference']:+.1f} (seeds {seeds}: {per_seed}) vs >= "
            f"{box['margin']:g}: **{box['verdict']}**"
        )
    return [
        f"- FSL above every WSOL row on {title} (mean over seeds): {first}.",
        f"- pseudo-box {title_box} at least {box['margin']:g} points above the "
        f"{reference_row} run it came from (mean of the differences paired by seed): "
        f"{second}.",
    ]


def markdown(report, source_table) -> str:
    """The whole Markdown: the caption, each setting's table and its targets."""
    reference, best = report["reference_row"], report["best_row"]
    lines = [
        f"FSL and the pseudo-box localizer beside the WSOL runs of `{source_table}` (test "
        f"split, mean ± std over seeds). {reference} and {best} are `{source_table}`'s own "
        "runs, each at the read-out (extractor and threshold) chosen on its validation split; "
        f"FSL and the pseudo-box localizer are trained from the {reference} run of each seed "
        f"(FSL: its backbone's ImageNet weights and its classifier for Top-1 Clas / Loc; "
        f"pseudo-box: the boxes the {reference} run draws on its training images, and its "
        "classifier). GT boxes used: boxed images that trained the localization (a WSOL row "
        "and the pseudo-box localizer use none; every row's choices use the val split's "
        f"boxes). s per run: the WSOL run's training; FSL's and the pseudo-box localizer's "
        f"whole call, on top of the {reference} run they read. The pseudo-box localizer gives "
        "one box per image and no score map: MaxBoxAccV2 does not apply, its box accuracy at "
        "each IoU stands beside it.",
        "",
    ]
    for setting, table in report["settings"].items():
        lines += [f"### {setting}", "", *table_lines(table, reference, best), ""]
        lines += ["Targets:", "", *target_lines(table["targets"], reference), ""]
    if not report["settings"]:
        lines.append("No data setting of the source table is on this machine.")
    return "\n".join(lines).rstrip() + "\n"


def found_anything(built) -> bool:
    """Whether a WSOL run or a localizer is finished (or recorded)."""
    return bool(built["results"]) or any(built["localizers"].values())
