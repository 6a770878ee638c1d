"""Fine-tune an ImageNet backbone on CUB, choose the CAM threshold on validation, score test.

    python -m wsol_tf.experiments.pretrained_finetune --experiment=cub_pretrained_adl \\
        --data_dir=../shared/data/CUB_200_2011_mini --seeds=0,1,2 --out=workdirs/cub_pretrained
    python -m wsol_tf.experiments.pretrained_finetune --experiment=cub_pretrained_adl \\
        --data_dir=... --set last_stride=2 --set gamma=0.8 --skip_test   # exploration

Every run holds `val_per_class` training images per class out as split "val" (never test).
After training, the run is evaluated on val; the threshold with the best val GT-known Loc
(fine grid, step 0.01) is the one the test numbers (GT-known Loc, Top-1 Loc) are reported at,
beside threshold-free MaxBoxAccV2 (its own best threshold per IoU, i.e. test-optimal) and the
best centered box on test (`wsol_tf.baselines`). With `--skip_test` the test split is never read:
exploration chooses settings on val only.

Writes <out>/<experiment>[-<overrides>]-s<seed>/{result.json, val/, test/} and prints a line
per run; `summary()` gives mean and standard deviation over seeds.
"""

import json
import os
import sys
import time

import numpy as np
from absl import app, flags, logging

VAL_CURVE_INTERVAL = 0.01
METRICS = ("top1_clas", "gt_known_loc", "top1_loc", "maxboxacc_v2")


def parse_overrides(pairs):
    """{field: value} from "key=value" strings; values are read as JSON when they parse."""
    overrides = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected key=value")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
        if key in ("positions", "lr_decay_epochs") and isinstance(overrides[key], str):
            overrides[key] = tuple(p for p in overrides[key].split(",") if p)
    return overrides


def run_name(experiment, overrides, seed):
    parts = [experiment] + [
        f"{k}={','.join(map(str, v)) if isinstance(v, list | tuple) else v}"
        for k, v in sorted(overrides.items())
    ]
    return "-".join(p.replace("/", "_") for p in parts) + f"-s{seed}"


def train_val_test(settings, workdir, evaluate_test=True, print_fn=print):
    """Trains (or reuses) one run, chooses the threshold on val, evaluates test at it.

    Args:
        settings: TrainConfig keyword arguments (with val_per_class > 0; no workdir).
        workdir: the run's folder.
        evaluate_test: False never reads the test split (exploration).
        print_fn: progress lines.

    Returns:
        {"settings", "train_seconds", "images_per_second", "val": {...}, "test": {...}
        (absent without evaluate_test)}; also written to workdir/result.json.
    """
    from wsol_tf import run
    from wsol_tf.config import TrainConfig

    config = TrainConfig(**settings, workdir=workdir).validate()
    if not config.val_per_class:
        raise ValueError("choosing the threshold needs a validation split: set val_per_class")
    result_path = os.path.join(workdir, "result.json")
    wanted = json.loads(config.to_json())
    result = None
    if os.path.isfile(result_path):
        with open(result_path) as f:
            result = json.load(f)
        if result.get("config") != wanted:
            raise ValueError(f"{workdir} holds another run's result: choose another --out")
    else:
        started = time.perf_counter()
        history = run.train(config, print_fn=print_fn)
        result = {
            "config": wanted,
            "train_seconds": float(sum(e["seconds"] for e in history)),
            "wall_seconds": time.perf_counter() - started,
            "images_per_second": float(np.mean([e["images_per_second"] for e in history])),
            "final_train_accuracy": history[-1]["accuracy"],
        }
    if "val" not in result:
        metrics = run.evaluate(
            workdir,
            split="val",
            out_dir=_mkdir(workdir, "val"),
            cam_curve_interval=VAL_CURVE_INTERVAL,
            num_pictures=0,
            print_fn=lambda *_: None,
        )
        result["val"] = {
            **{k: metrics[k] for k in METRICS},
            "threshold": metrics["curve"]["best_threshold"],
            "best_gt_known_loc": metrics["curve"]["best_gt_known_loc"],
            "num_images": metrics["num_images"],
        }
    if evaluate_test and "test" not in result:
        from wsol_tf.baselines import centered_box_baseline
        from wsol_tf.data.datasets import load_split

        threshold = result["val"]["threshold"]
        metrics = run.evaluate(
            workdir,
            split="test",
            out_dir=_mkdir(workdir, "test"),
            cam_threshold=threshold,
            print_fn=lambda *_: None,
        )
        records = load_split(config.dataset, config.data_dir, "test")
        box = centered_box_baseline(records, config.image_size, config.eval_resize_size)
        result["test"] = {
            **{k: metrics[k] for k in METRICS},
            "threshold_from_val": threshold,
            "test_optimal_gt_known_loc": metrics["curve"]["best_gt_known_loc"],
            "test_optimal_threshold": metrics["curve"]["best_threshold"],
            "maxboxacc": metrics["maxboxacc"],
            "centered_box": box["best"],
            "centered_box_fraction": box["best_fraction"],
            "num_images": metrics["num_images"],
            "overlays": metrics.get("overlays"),
        }
    with open(result_path, "w") as f:
        json.dump(result, f, indent=2)
    return result


def _mkdir(*parts):
    path = os.path.join(*parts)
    os.makedirs(path, exist_ok=True)
    return path


def summary(results, split):
    """{metric: (mean, std over runs)} of one split's metrics."""
    out = {}
    for key in (*METRICS, "centered_box", "threshold", "threshold_from_val"):
        values = [r[split][key] for r in results if key in r.get(split, {})]
        if values:
            out[key] = (float(np.mean(values)), float(np.std(values)))
    return out


FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("experiment", "cub_pretrained_adl", "A wsol_tf.experiments module.")
    flags.DEFINE_string("dataset", "cub", "The experiment's dataset config.")
    flags.DEFINE_string("data_dir", None, "Dataset folder.")
    flags.DEFINE_list("seeds", ["0"], "Seeds to run.")
    flags.DEFINE_multi_string("set", [], "Override a setting: key=value (JSON values).")
    flags.DEFINE_string("out", "workdirs/cub_pretrained", "Runs go to <out>/<name>-s<seed>.")
    flags.DEFINE_boolean("skip_test", False, "Never read the test split (exploration on val).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from wsol_tf import experiments

    try:
        base = experiments.lookup(FLAGS.experiment, None, None, FLAGS.dataset)
        overrides = parse_overrides(FLAGS.set)
        seeds = [int(s) for s in FLAGS.seeds]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if FLAGS.data_dir:
        overrides.setdefault("data_dir", FLAGS.data_dir)
    results = []
    for seed in seeds:
        settings = {**base, **overrides, "seed": seed}
        name = run_name(
            FLAGS.experiment, {k: v for k, v in overrides.items() if k != "data_dir"}, seed
        )
        workdir = os.path.join(FLAGS.out, name)
        try:
            result = train_val_test(settings, workdir, evaluate_test=not FLAGS.skip_test)
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        results.append(result)
        line = {"run": name, "train_s": round(result["train_seconds"]), "val": result["val"]}
        if "test" in result:
            line["test"] = {k: v for k, v in result["test"].items() if k != "overlays"}
        print(json.dumps(line), flush=True)
    for split in ("val", "test"):
        if all(split in r for r in results):
            stats = summary(results, split)
            shown = ", ".join(f"{k} {m:.2f} ± {s:.2f}" for k, (m, s) in stats.items())
            print(f"{split} over {len(results)} seed(s): {shown}")
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
