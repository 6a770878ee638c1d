"""Threshold sweep: contours once per integer level vs one contour pass per threshold.

    .venv/bin/python bench/bench_evaluator.py [--images 16] [--repeats 5] [--size 224]

Both sides compute MaxBoxAcc (largest contour, IoU 0.5) and MaxBoxAccV2 (all contours,
IoU 0.3/0.5/0.7) over wsolevaluation's grid np.arange(0, 1, 0.001) on the same maps:

* loop: what wsolevaluation does, one ``cv2.threshold`` + ``cv2.findContours`` per threshold
  per image, one pass for MaxBoxAcc and another for MaxBoxAccV2
  (``wsol_tf.evaluation.boxes.boxes_from_scoremap_loop``);
* grouped: ``wsol_tf.evaluation.metrics.LocalizationEvaluator`` (contours once per distinct
  ``int(tau * max)`` level, shared by both metrics, plus the Tensorpack sweep).

Also times the single-metric case (largest contour only) to separate the two savings. The
script checks the accuracies are identical before printing timings (median, min, max).
"""

import argparse
import os
import sys

import cv2
import numpy as np

from wsol_tf.evaluation.boxes import boxes_from_scoremap_loop, iou
from wsol_tf.evaluation.metrics import LocalizationEvaluator, ious_at_thresholds

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

GRID = np.arange(0, 1, 0.001)
DELTAS = (0.3, 0.5, 0.7)


def make_maps(num, size, seed=0):
    """CAM-like maps: 14 x 14 noise with a bump, bicubic to size x size, min-max normalised."""
    rng = np.random.default_rng(seed)
    maps, gts = [], []
    yy, xx = np.mgrid[0:14, 0:14]
    for _ in range(num):
        cy, cx = rng.uniform(3, 11, 2)
        bump = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / rng.uniform(4, 12))
        small = bump + 0.4 * rng.random((14, 14))
        m = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
        maps.append((m - m.min()) / (m.max() - m.min()))
        s = size / 14
        half = rng.uniform(2, 4) * s
        x0, y0 = max(0, cx * s - half), max(0, cy * s - half)
        gts.append(
            np.array([[int(x0), int(y0), int(min(size - 1, cx * s + half)),
                       int(min(size - 1, cy * s + half))]])
        )  # fmt: skip
    return maps, gts


def accuracies_loop(maps, gts, multi_contour, deltas, boxes_fn):
    """Per-threshold loop: boxes, best IoU per threshold, counts, best accuracy per delta."""
    correct = {d: np.zeros(len(GRID)) for d in deltas}
    for m, gt in zip(maps, gts, strict=True):
        per_tau = boxes_fn(m, GRID, multi_contour)
        best = np.array([iou(boxes, gt).max() for boxes in per_tau])  # (T,)
        for d in deltas:
            correct[d][best >= d] += 1
    return [float((correct[d] * 100.0 / len(maps)).max()) for d in deltas]


def straightforward(maps, gts):
    (v1,) = accuracies_loop(maps, gts, False, [0.5], boxes_from_scoremap_loop)
    v2 = accuracies_loop(maps, gts, True, DELTAS, boxes_from_scoremap_loop)
    return v1, v2


def grouped(maps, gts):
    evaluator = LocalizationEvaluator()
    labels = np.zeros(len(maps), dtype=np.int64)
    evaluator.accumulate(
        np.stack(maps), None, labels, labels, np.stack(gts), np.ones(len(maps), np.int64)
    )
    res = evaluator.compute()
    return res["maxboxacc"], [res["maxboxacc_v2_per_iou"][str(d)]["accuracy"] for d in DELTAS]


def grouped_single(maps, gts):
    """MaxBoxAcc alone with the grouped sweep (IoUs computed per level, not per threshold)."""
    correct = np.zeros(len(GRID))
    for m, gt in zip(maps, gts, strict=True):
        correct[ious_at_thresholds(m, gt, [GRID])[0]["iou_largest"] >= 0.5] += 1
    return [float((correct * 100.0 / len(maps)).max())]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    common.check_repeats(args.repeats)
    maps, gts = make_maps(args.images, args.size)

    # Equality first (this also warms both sides up), then interleaved timing rounds.
    slow_out, fast_out = straightforward(maps, gts), grouped(maps, gts)
    if slow_out != fast_out:
        raise SystemExit(f"MISMATCH: loop {slow_out} vs grouped {fast_out}")
    one_slow_out = accuracies_loop(maps, gts, False, [0.5], boxes_from_scoremap_loop)
    one_fast_out = grouped_single(maps, gts)
    if one_slow_out != one_fast_out:
        raise SystemExit(f"MISMATCH (single): {one_slow_out} vs {one_fast_out}")
    times = common.interleaved(
        {
            "loop": lambda: straightforward(maps, gts),
            "grouped": lambda: grouped(maps, gts),
            "loop_single": lambda: accuracies_loop(
                maps, gts, False, [0.5], boxes_from_scoremap_loop
            ),
            "grouped_single": lambda: grouped_single(maps, gts),
        },
        args.repeats,
        warmup=0,
    )
    both = common.pair_ratios(times["loop"], times["grouped"])
    single = common.pair_ratios(times["loop_single"], times["grouped_single"])

    print(f"bench_evaluator; {common.machine_line()}")
    print(f"{args.images} maps {args.size}x{args.size}, {len(GRID)} thresholds, "
          f"{args.repeats} interleaved repeats; identical values: MaxBoxAcc {fast_out[0]}, "
          f"MaxBoxAccV2 per IoU {fast_out[1]}")  # fmt: skip
    n = args.images
    print("| what | per-threshold loop | grouped | images/s loop | images/s grouped | ratio "
          "(median, min-max) | target |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for label, a, b, ratios, target in (
        ("MaxBoxAcc + MaxBoxAccV2", times["loop"], times["grouped"], both, 5.0),
        ("MaxBoxAcc only", times["loop_single"], times["grouped_single"], single, None),
    ):
        med = common.stats(ratios)[0]
        verdict = "-" if target is None else f">= {target:g}x {'PASS' if med >= target else 'FAIL'}"
        print(
            f"| {label} | {common.fmt(a)} | {common.fmt(b)} | {n / common.stats(a)[0]:.1f} | "
            f"{n / common.stats(b)[0]:.1f} | {common.fmt_ratio(ratios, 2)} | {verdict} |"
        )


if __name__ == "__main__":
    main()
