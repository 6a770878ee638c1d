"""The evaluator end to end on saved maps vs wsolevaluation's per-threshold loop.

    .venv/bin/python bench/bench_evaluator_e2e.py [--maps workdirs/bench/ilsvrc_maps]
        [--data_dir ../shared/data/ILSVRC2012_val_mini] [--images 0] [--repeats 1]

Both sides read the same 224 x 224 ``.npy`` maps of the ImageNet val mini set (1,300
images, wsol_metadata ``test`` split; the maps are synthesized once if the folder is
missing: 14 x 14 noise plus a Gaussian bump per GT box, bicubic to 224, min-max normalized,
seed 0) and compute MaxBoxAcc (largest contour, IoU 0.5) and MaxBoxAccV2 (all contours,
IoU 0.3 / 0.5 / 0.7) over ``np.arange(0, 1, 0.001)``, metadata reading included:

* wsolevaluation: a restatement of clovaai/wsolevaluation's ``BoxEvaluator`` as its
  ``evaluation.py`` runs it: per image ``np.load``, and per threshold ``np.max`` of the
  uint8 map, ``cv2.threshold``, ``cv2.findContours`` and the boxes
  (``compute_bboxes_from_scoremaps``), then one IoU matrix and the per-threshold maxima;
  once with ``multi_contour_eval=False`` (MaxBoxAcc) and once with True (MaxBoxAccV2), as
  it computes the two metrics in two runs. GT boxes come from ``image_sizes.txt``.
* wsol_tf: ``wsol_tf.evaluation.evaluate(scoremaps=...)``, with ``--workers`` threads
  (1: single-threaded, like the other side) and with the default (one per core).

The script checks that MaxBoxAcc and MaxBoxAccV2 per IoU are identical, then prints the
seconds of each side and their ratio per round (median, min-max over ``--repeats`` rounds,
interleaved). ``--images N`` uses the first N maps only.
"""

import argparse
import os
import sys
import tempfile
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

from wsol_tf.data.datasets import load_split  # noqa: E402
from wsol_tf.evaluation.boxes import gt_boxes_for_input, iou  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GRID = np.arange(0, 1, 0.001)
SIZE = (224, 224)


def make_maps(out, data_dir, seed=0):
    """CAM-like maps for every image of the split, saved in wsolevaluation's layout."""
    from wsol_tf.evaluation.scoremap_files import save_scoremap
    from wsol_tf.evaluation.sources import FileEvalSource

    records = load_split("wsol_metadata", data_dir, "test")
    source = FileEvalSource(records)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:14, 0:14] + 0.5
    for row in range(len(records)):
        small = 0.35 * rng.random((14, 14))
        for x0, y0, x1, y1 in source.gt(row, SIZE, None):
            cx, cy = (x0 + x1) / 32, (y0 + y1) / 32
            sx = max(0.5, (x1 - x0) / 48 * rng.uniform(0.6, 1.4))
            sy = max(0.5, (y1 - y0) / 48 * rng.uniform(0.6, 1.4))
            small += np.exp(-((xx - cx) ** 2 / (2 * sx**2) + (yy - cy) ** 2 / (2 * sy**2)))
        m = cv2.resize(small, SIZE[::-1], interpolation=cv2.INTER_CUBIC)
        save_scoremap(out, source.image_id(row), (m - m.min()) / (m.max() - m.min()))


def boxes_at_thresholds(scoremap, multi_contour):
    """wsolevaluation's compute_bboxes_from_scoremaps: one cv2 pass per threshold."""
    height, width = scoremap.shape
    image = np.expand_dims((scoremap * 255).astype(np.uint8), 2)
    boxes_per, counts = [], []
    for threshold in GRID:
        _, binary = cv2.threshold(image, int(threshold * np.max(image)), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        if len(contours) == 0:
            boxes_per.append(np.asarray([[0, 0, 0, 0]]))
            counts.append(1)
            continue
        if not multi_contour:
            contours = [max(contours, key=cv2.contourArea)]
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
        boxes_per.append(np.asarray(boxes))
        counts.append(len(contours))
    return boxes_per, counts


def wsolevaluation_style(map_dir, data_dir, limit):
    """(MaxBoxAcc, [MaxBoxAccV2 at 0.3, 0.5, 0.7]) the per-threshold way."""
    records = load_split("wsol_metadata", data_dir, "test")
    rows = range(len(records) if not limit else min(limit, len(records)))
    results = []
    for multi, deltas in ((False, (50,)), (True, (30, 50, 70))):
        correct = {d: np.zeros(len(GRID)) for d in deltas}
        for row in rows:
            image_id = records.image_ids[row]
            scoremap = np.load(os.path.join(map_dir, image_id + ".npy"))
            width, height = records.image_sizes[row]
            gt = gt_boxes_for_input(
                records.boxes[row, : records.num_boxes[row]], (height, width), SIZE
            )
            boxes_per, counts = boxes_at_thresholds(scoremap, multi)
            multiple = iou(np.concatenate(boxes_per, axis=0), gt).max(axis=1)
            sliced, start = [], 0
            for count in counts:
                sliced.append(max(multiple[start : start + count]))
                start += count
            sliced = np.asarray(sliced)
            for d in deltas:
                correct[d][np.where(sliced >= d / 100)[0]] += 1
        results.append([float((correct[d] * 100.0 / len(rows)).max()) for d in deltas])
    return results[0][0], results[1]


def wsol_tf_style(map_dir, data_dir, limit, workers):
    from wsol_tf.evaluation.evaluator import evaluate_scoremaps

    records = load_split("wsol_metadata", data_dir, "test")
    if limit:
        records = records.subset(np.arange(min(limit, len(records))))
    metrics = evaluate_scoremaps(
        map_dir, records, num_overlays=0, workers=workers, print_fn=lambda *_: None
    )
    per_iou = metrics["maxboxacc_v2_per_iou"]
    return metrics["maxboxacc"], [per_iou[str(d)]["accuracy"] for d in (0.3, 0.5, 0.7)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", default="workdirs/bench/ilsvrc_maps")
    parser.add_argument(
        "--data_dir",
        default=os.path.join(HERE, "..", "..", "shared", "data", "ILSVRC2012_val_mini"),
    )
    parser.add_argument("--images", type=int, default=0, help="first N maps only (0: all)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if not os.path.isdir(args.maps):
        started = time.perf_counter()
        make_maps(args.maps, args.data_dir)
        print(f"synthesized maps in {args.maps} ({time.perf_counter() - started:.1f} s)")
    from wsol_tf.evaluation.evaluator import default_workers

    workers = default_workers()
    sides = {
        "wsolevaluation": lambda: wsolevaluation_style(args.maps, args.data_dir, args.images),
        "wsol_tf 1 thread": lambda: wsol_tf_style(args.maps, args.data_dir, args.images, 1),
        f"wsol_tf {workers} threads": lambda: wsol_tf_style(
            args.maps, args.data_dir, args.images, workers
        ),
    }
    outputs, times = {}, {name: [] for name in sides}
    with tempfile.TemporaryDirectory():
        for _ in range(args.repeats):  # interleaved rounds; the first also checks values
            for name, fn in sides.items():
                started = time.perf_counter()
                outputs[name] = fn()
                times[name].append(time.perf_counter() - started)
    reference = outputs["wsolevaluation"]
    for name, out in outputs.items():
        if out != reference:
            raise SystemExit(f"MISMATCH: {name} {out} vs wsolevaluation {reference}")
    n = args.images or 1300
    print(f"bench_evaluator_e2e; {common.machine_line()}")
    print(f"{n} maps in {args.maps}, {len(GRID)} thresholds, {args.repeats} round(s); identical "
          f"values: MaxBoxAcc {reference[0]}, MaxBoxAccV2 per IoU {reference[1]} "
          f"(mean {np.mean(reference[1]):.4f})")  # fmt: skip
    print("| side | seconds (median, min-max) | maps/s | wsolevaluation / side (median, min-max) |")
    print("|---|---|---|---|")
    for name, seconds in times.items():
        ratio = common.pair_ratios(times["wsolevaluation"], seconds)
        print(f"| {name} | {common.fmt(seconds)} | {n / common.stats(seconds)[0]:.1f} | "
              f"{common.fmt_ratio(ratio, 2)} |")  # fmt: skip


if __name__ == "__main__":
    main()
