"""Training step time and peak memory of each backbone on CPU (224 x 224, batch 32 by default).

Each backbone runs in its own subprocess, so the peak RSS (ru_maxrss) is its own:
build the ADL model, compile one SGD training step with tf.function, run one
warm-up step, then time `--repeats` steps and print median/min/max.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_backbones.py
    .venv/bin/python bench/bench_backbones.py --models=mobilenetv1 --size=224 --batch=32
    .venv/bin/python bench/bench_backbones.py --json_out=workdirs/bench/backbones.json

`--json_out` saves the measurements for `bench/scaling.py`.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

MODELS = ("vgg16gap", "resnet50se", "resnet50", "mobilenetv1", "inceptionv3")


def measure(name, size, batch, repeats, classes):
    import keras
    import numpy as np
    import tensorflow as tf

    from wsol_tf import models

    keras.utils.set_random_seed(0)
    model = models.build(name, classes, method="adl", image_size=size, seed=0)
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32))
    labels = tf.constant(rng.integers(0, classes, batch).astype(np.int32))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step().numpy()  # trace + warm-up
    _, times = common.timed(lambda: step().numpy(), repeats)
    median, low, high = common.stats(times)
    return {
        "model": name,
        "params": model.count_params(),
        "median_s": median,
        "min_s": low,
        "max_s": high,
        "peak_rss_mib": common.peak_rss_mib(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--json_out", help="also write the results here (for bench/scaling.py)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    common.check_repeats(args.repeats)
    if args.child:
        common.emit_result(measure(args.child, args.size, args.batch, args.repeats, args.classes))
        return
    print(
        f"CPU training step, {args.size}x{args.size}, batch {args.batch}, {args.classes} classes, "
        f"ADL at default positions, median of {args.repeats} steps after 1 warm-up; "
        f"{common.machine_line()}"
    )
    print("| model | params | step s (median) | min | max | img/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    results = []
    for name in args.models.split(","):
        flags = [f"--child={name}", f"--size={args.size}", f"--batch={args.batch}"]
        flags += [f"--repeats={args.repeats}", f"--classes={args.classes}"]
        r = common.run_child(__file__, flags)
        results.append(r)
        print(
            f"| {name} | {r['params']:,} | {r['median_s']:.2f} | {r['min_s']:.2f} | "
            f"{r['max_s']:.2f} | {args.batch / r['median_s']:.1f} | {r['peak_rss_mib']:.0f} |",
            flush=True,
        )
    if args.json_out:
        os.makedirs(os.path.dirname(os.path.abspath(args.json_out)), exist_ok=True)
        with open(args.json_out, "w") as f:
            json.dump({"size": args.size, "batch": args.batch, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
