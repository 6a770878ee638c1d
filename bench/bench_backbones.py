"""Training step time and peak memory of each backbone on CPU (224 x 224, batch 32 by default).

Each backbone runs in its own subprocess, so the peak RSS (ru_maxrss) is its own:
build the ADL model, compile one SGD training step with tf.function, run one
warm-up step, then time `--repeats` steps and print median/min/max.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_backbones.py
    .venv/bin/python bench/bench_backbones.py --models=mobilenetv1 --size=224 --batch=32
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

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
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step().numpy()
        times.append(time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "model": name,
        "params": model.count_params(),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "peak_rss_mib": peak_mib,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure(args.child, args.size, args.batch, args.repeats, args.classes)
        print("RESULT " + json.dumps(result), flush=True)
        return
    print(
        f"CPU training step, {args.size}x{args.size}, batch {args.batch}, {args.classes} classes, "
        f"ADL at default positions, median of {args.repeats} steps after 1 warm-up "
        f"({os.cpu_count()} CPUs visible)"
    )
    print("| model | params | step s (median) | min | max | img/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        command = [sys.executable, __file__, f"--child={name}", f"--size={args.size}"]
        command += [f"--batch={args.batch}", f"--repeats={args.repeats}"]
        command += [f"--classes={args.classes}"]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        r = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
        print(
            f"| {name} | {r['params']:,} | {r['median_s']:.2f} | {r['min_s']:.2f} | "
            f"{r['max_s']:.2f} | {args.batch / r['median_s']:.1f} | {r['peak_rss_mib']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
