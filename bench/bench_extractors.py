"""Score-map extractors: per-image time of each against classic CAM on the same model.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_extractors.py [--model tinyvgg]
        [--image_size 96] [--batch 32] [--repeats 5] [--checkpoint WORKDIR]

One model (random weights, or a workdir's checkpoint with --checkpoint), one batch of 32
images, every extractor through `ScoreMapper.raw` (the tf.function the evaluator calls:
raw maps, no cv2 post-processing), traced once before timing. Rounds are interleaved
(classic, gradcam, ..., classic, gradcam, ...); each extractor's ratio is its time over
classic CAM's time in the same round, as the median (min-max) over the rounds.
Score-CAM's cost in forward passes per image is printed beside it: 1 + min(K, cap), with K
the channels of the layer it scores.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402


def specs(model, scorecam_max_channels=64):
    from wsol_tf.evaluation.extractors import EXTRACTORS, CamSpec

    middle = {"tinyvgg": "block3_conv2", "mobilenetv1": "conv_pw_11_relu"}.get(
        model.backbone.name, None
    )
    # Every registered extractor (the cap matters to Score-CAM only).
    out = {
        name: CamSpec(name, scorecam_max_channels=scorecam_max_channels)
        for name in EXTRACTORS.names()
    }
    if middle:
        out[f"layercam {middle}+features"] = CamSpec("layercam", layers=(middle, "features"))
    out["classic tta (6 views)"] = CamSpec("classic", smooth="tta")
    out["gradcampp tta (6 views)"] = CamSpec("gradcampp", smooth="tta")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tinyvgg")
    parser.add_argument("--image_size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--checkpoint", default=None, help="a workdir: its latest checkpoint")
    parser.add_argument(
        "--scorecam_max_channels", type=int, default=64, help="Score-CAM's channel cap"
    )
    args = parser.parse_args()
    common.check_repeats(args.repeats)

    from wsol_tf import models
    from wsol_tf.evaluation.extractors import ScoreMapper

    if args.checkpoint:
        from wsol_tf.runs.checkpoints import load_model

        model, config, _ = load_model(args.checkpoint)
        what = f"{args.checkpoint} ({config.model}, {config.method})"
    else:
        model = models.build(args.model, args.classes, image_size=args.image_size, seed=0)
        what = f"{args.model}, random weights, {args.classes} classes"
    size = model.image_size
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (args.batch, *size, 3)).astype(np.float32)
    classes = rng.integers(0, model.num_classes, args.batch)
    mappers = {
        name: ScoreMapper(model, spec)
        for name, spec in specs(model, args.scorecam_max_channels).items()
    }
    for mapper in mappers.values():  # trace and warm up
        mapper.raw(images, classes)
    times = common.interleaved(
        {name: (lambda m=m: m.raw(images, classes)) for name, m in mappers.items()},
        args.repeats,
        warmup=0,
    )
    channels = int(model(images[:1], training=False)["features"].shape[-1])
    cap = mappers["scorecam"].spec.scorecam_max_channels
    passes = 1 + min(channels, cap)
    print(f"bench_extractors; {common.machine_line()}")
    print(f"model: {what}, input {size[0]}x{size[1]}, batch {args.batch}, "
          f"{args.repeats} interleaved rounds; Score-CAM: {passes} forward passes per image "
          f"(1 + min(K={channels}, cap {cap}))")  # fmt: skip
    print("| extractor | ms per image (median, min-max) | time / classic CAM (median, min-max) |")
    print("|---|---|---|")
    n = args.batch
    for name, seconds in times.items():
        per_image = [1000 * t / n for t in seconds]
        ratio = common.pair_ratios(seconds, times["classic"])
        print(f"| {name} | {common.fmt(per_image, 'ms', 2)} | {common.fmt_ratio(ratio, 1)} |")


if __name__ == "__main__":
    main()
