"""Every score-map extractor on the same checkpoints, with WSOL metrics: the RESULTS.md
table of extractors (`python -m wsol_tf.reproduce --tables=extractors
--extractor_workdirs=W1,W2`).

For each trained workdir and each extractor (`CamSpec`):

1. the run's held-out split (`val`, from `--val_per_class` at training) is evaluated and its
   fine-grid curve chooses the CAM threshold (best GT-known Loc, lowest threshold on ties);
2. the test split is evaluated: MaxBoxAccV2, GT-known Loc at the validation-chosen
   threshold (read from the test curve), Top-1 Clas, and the seconds per image of that
   evaluation (maps, boxes and metrics; `bench/bench_extractors.py` times the maps alone).

A workdir without a `val` split (trained with `--val_per_class=0`) is refused, naming the
flag: choosing the threshold on the test set would flatter every extractor.
"""

from __future__ import annotations

import os

from wsol_tf.evaluation.extractors import EXTRACTORS, CamSpec, resolve

# Every registered extractor with its default options, then classic CAM with test-time
# augmentation (what smoothing buys the plainest map).
DEFAULT_CAMS = (*(CamSpec(name) for name in EXTRACTORS.names()), CamSpec("classic", smooth="tta"))


def slug(spec: CamSpec) -> str:
    text = spec.describe()
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("_")


def evaluate_extractors(
    workdirs,
    cams=DEFAULT_CAMS,
    *,
    val_split="val",
    test_split="test",
    cam_curve_interval=0.001,
    out_root=None,
    print_fn=print,
):
    """Rows (dicts) of the table, one per workdir x extractor; evaluations are written to
    `<out_root or workdir>/extractors/<extractor>/{val,test}/metrics.json`."""
    from wsol_tf import evaluation
    from wsol_tf.runs.config import TrainConfig

    rows = []
    for workdir in workdirs:
        config = TrainConfig.load(workdir)
        if config is None:
            raise FileNotFoundError(f"--extractor_workdirs: {workdir} has no config.json")
        if not config.val_per_class:
            raise ValueError(
                f"--extractor_workdirs: {workdir} was trained with --val_per_class=0, so it has "
                "no held-out split to choose the CAM threshold on; retrain with "
                "--val_per_class=N."
            )
        for cam in cams:
            spec = resolve(cam)
            out = os.path.join(out_root or workdir, "extractors", slug(spec))
            common = dict(
                cam=spec, cam_curve_interval=cam_curve_interval, num_pictures=0,
                print_fn=lambda *_: None,
            )  # fmt: skip
            val = evaluation.evaluate(
                workdir, split=val_split, out_dir=os.path.join(out, "val"), **common
            )
            test = evaluation.evaluate(
                workdir, split=test_split, out_dir=os.path.join(out, "test"), **common
            )
            chosen = val["curve"]["best_threshold"]
            index = test["curve"]["thresholds"].index(chosen)
            row = {
                "workdir": workdir,
                "model": config.model,
                "method": config.method,
                "dataset": config.dataset,
                "cam": spec.describe(),
                "maxboxacc_v2": test["maxboxacc_v2"],
                "val_threshold": chosen,
                "gt_known_loc_at_val_threshold": test["curve"]["gt_known_loc"][index],
                "top1_clas": test["top1_clas"],
                "num_test_images": test["num_images"],
                "seconds_per_image": test["seconds"] / test["num_images"],
            }
            rows.append(row)
            print_fn(
                f"{workdir} {row['cam']}: MaxBoxAccV2 {row['maxboxacc_v2']:.2f}, GT-known "
                f"{row['gt_known_loc_at_val_threshold']:.2f} at {chosen:g}, "
                f"{row['seconds_per_image']:.3f} s/img"
            )
    return rows


def markdown(rows) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| checkpoint | method | extractor | MaxBoxAccV2 | GT-known Loc @ val-chosen tau | "
        "tau | Top-1 Clas | s / image |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {os.path.basename(os.path.normpath(r['workdir']))} ({r['model']}, "
            f"{r['dataset']}) | {r['method']} | {r['cam']} | {r['maxboxacc_v2']:.2f} | "
            f"{r['gt_known_loc_at_val_threshold']:.2f} | {r['val_threshold']:g} | "
            f"{r['top1_clas']:.2f} | {r['seconds_per_image']:.3f} |"
        )
    return "\n".join(lines) + "\n"
