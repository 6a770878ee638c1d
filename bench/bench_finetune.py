"""Fine-tuning step of EfficientNet-Lite0 at 224: our Trainer's loop vs keras Model.fit.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_finetune.py [--batch=16 --steps=2]

The CUB recipe's backbone (`experiments/pretrained_recipe.py`) at its input size, compared
exactly as `bench_training.py` compares the other backbones (same model with ADL at its
default positions, same in-memory batch, SGD Nesterov, float32, `--steps` steps per round,
rounds interleaved loop/fit after one warm-up round each, in one subprocess). Prints the
ratio fit time / loop time (target >= 1.0x) and both sides' training images per second, the
number a fine-tuning run's time follows from (its data pipeline aside).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_training  # noqa: E402
import common  # noqa: E402

MODEL, SIZE = "efficientnet_lite0", 224


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    common.check_repeats(args.repeats)
    print(f"bench_finetune: {MODEL} at {SIZE}, batch {args.batch}; {common.machine_line()}")
    spec = f"loop_vs_fit,{MODEL},{SIZE},{args.batch},{args.steps}"
    r = common.run_child(bench_training.__file__, [f"--child={spec}", f"--repeats={args.repeats}"])
    loop, fit = r["per_step"]["loop"], r["per_step"]["fit"]
    med, lo, hi = common.stats(r["ratios"])
    loop_ips = [args.batch / t for t in loop]
    fit_ips = [args.batch / t for t in fit]
    print("| model | size | batch | steps/round | step s loop | step s fit | loop img/s | "
          "fit img/s | fit/loop (median, min-max) | target |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {MODEL} | {SIZE} | {args.batch} | {args.steps} | {common.fmt(loop)} | "
        f"{common.fmt(fit)} | {common.fmt(loop_ips, unit='', digits=1)} | "
        f"{common.fmt(fit_ips, unit='', digits=1)} | {med:.3f}x ({lo:.3f}-{hi:.3f}) | "
        f">= 1.0x {'PASS' if med >= 1.0 else 'FAIL'} |"
    )


if __name__ == "__main__":
    main()
