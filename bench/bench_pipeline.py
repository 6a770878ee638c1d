"""Input pipeline throughput at 224 on the real mini sets vs ResNet50's training consumption.

Measures, in one run on this machine:
  * pipeline img/s: full passes of `make_dataset` (training augmentation, batch 32,
    224 x 224) over CUB_200_2011_mini train (crop_flip and random_resized_crop) and
    ILSVRC2012_val_mini (crop_flip), median / min / max of --repeats passes;
  * ResNet50 img/s: `keras.applications.ResNet50(weights=None)` SGD training steps
    on random 224 x 224 batches of 32 (one warm-up step, then --resnet_steps timed);
and prints the ratio pipeline / ResNet50 (target >= 3) per set, plus a Markdown row.

Usage:
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_pipeline.py [--repeats 5]
"""

import argparse
import os
import statistics
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.environ.get(
    "WSOL_TF_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data")
)


def stats(values):
    return statistics.median(values), min(values), max(values)


def pipeline_rates(records, repeats, batch_size, train_augment):
    from wsol_tf.data.pipeline import make_dataset

    rates = []
    for epoch in range(repeats + 1):  # the first pass warms up (traces, file cache)
        dataset = make_dataset(records, training=True, image_size=224, batch_size=batch_size,
                               epoch=epoch, train_augment=train_augment)  # fmt: skip
        started, seen = time.perf_counter(), 0
        for batch in dataset:
            seen += int(batch["label"].shape[0])
        if epoch:
            rates.append(seen / (time.perf_counter() - started))
    return rates


def resnet_rates(steps, batch_size):
    import keras
    import tensorflow as tf

    model = keras.applications.ResNet50(weights=None, classes=1000)
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 255, (batch_size, 224, 224, 3)).astype(np.float32))
    labels = tf.constant(rng.integers(0, 1000, batch_size))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(labels, model(images, training=True))
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    float(step())  # warm-up: tracing and first step
    rates = []
    for _ in range(steps):
        started = time.perf_counter()
        float(step())
        rates.append(batch_size / (time.perf_counter() - started))
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_root", default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--resnet_steps", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args()

    from wsol_tf.data.datasets import load_split

    cub = os.path.join(args.data_root, "CUB_200_2011_mini")
    ilsvrc = os.path.join(args.data_root, "ILSVRC2012_val_mini")
    sets = [
        ("CUB mini train, crop_flip", load_split("cub", cub, "train"), "crop_flip"),
        ("CUB mini train, random_resized_crop", load_split("cub", cub, "train"),
         "random_resized_crop"),
        ("ILSVRC mini val, crop_flip", load_split("imagenet", ilsvrc, "val"), "crop_flip"),
    ]  # fmt: skip
    print(f"CPU cores visible: {os.cpu_count()}; batch {args.batch_size}; 224 x 224")
    results = []
    for name, records, augment in sets:
        rates = pipeline_rates(records, args.repeats, args.batch_size, augment)
        results.append((name, len(records), stats(rates)))
        med, lo, hi = stats(rates)
        print(f"pipeline {name} ({len(records)} images): median {med:.1f} img/s "
              f"(min {lo:.1f}, max {hi:.1f}, {args.repeats} passes)")  # fmt: skip
    r_med, r_lo, r_hi = stats(resnet_rates(args.resnet_steps, args.batch_size))
    print(f"ResNet50 training: median {r_med:.2f} img/s (min {r_lo:.2f}, max {r_hi:.2f}, "
          f"{args.resnet_steps} steps of {args.batch_size})")  # fmt: skip
    print("\n| set | pipeline img/s (median, min-max) | ResNet50 img/s | ratio |")
    print("|---|---|---|---|")
    for name, _, (med, lo, hi) in results:
        print(f"| {name} | {med:.0f} ({lo:.0f}-{hi:.0f}) | {r_med:.2f} ({r_lo:.2f}-{r_hi:.2f}) "
              f"| {med / r_med:.0f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
