"""Input pipeline throughput at 224 on the real mini sets vs ResNet50's training consumption.

Measures, in one process, interleaved round by round (one full pipeline pass per set,
then one model step), after a warm-up round:
  * pipeline img/s: full passes of `make_dataset` (training augmentation, batch 32,
    224 x 224) over CUB_200_2011_mini train (crop_flip and random_resized_crop) and
    ILSVRC2012_val_mini (crop_flip);
  * model img/s: our ResNet50 with ADL (`wsol_tf.models.build("resnet50", 200,
    method="adl")`), one SGD training step on a random 224 x 224 batch of 32;
and prints the per-round ratio pipeline / model (target >= 3x) as median, min and max.

Usage:
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_pipeline.py [--repeats 5]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.environ.get(
    "WSOL_TF_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data")
)


def pipeline_pass(records, batch_size, train_augment, epoch):
    """Images per second of one full pass of the training pipeline."""
    from wsol_tf.data.pipeline import make_dataset

    dataset = make_dataset(records, training=True, image_size=224, batch_size=batch_size,
                           epoch=epoch, train_augment=train_augment)  # fmt: skip
    started, seen = time.perf_counter(), 0
    for batch in dataset:
        seen += int(batch["label"].shape[0])
    return seen / (time.perf_counter() - started)


def model_step_fn(batch_size, model_name):
    """A callable running one training step; returns images per second."""
    import keras
    import tensorflow as tf

    from wsol_tf import models

    keras.utils.set_random_seed(0)
    model = models.build(model_name, 200, method="adl", image_size=224, seed=0)
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 255, (batch_size, 224, 224, 3)).astype(np.float32))
    labels = tf.constant(rng.integers(0, 200, batch_size).astype(np.int32))

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

    def run():
        started = time.perf_counter()
        float(step())
        return batch_size / (time.perf_counter() - started)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_root", default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--model", default="resnet50")
    args = parser.parse_args()
    common.check_repeats(args.repeats)

    from wsol_tf.data.datasets import load_split

    cub = os.path.join(args.data_root, "CUB_200_2011_mini")
    ilsvrc = os.path.join(args.data_root, "ILSVRC2012_val_mini")
    if not (os.path.isdir(cub) and os.path.isdir(ilsvrc)):
        print(f"SKIPPED bench_pipeline: shared mini sets not found under {args.data_root} "
              "(set --data_root or WSOL_TF_SHARED_DATA)")  # fmt: skip
        return
    sets = [
        ("CUB mini train, crop_flip", load_split("cub", cub, "train"), "crop_flip"),
        ("CUB mini train, random_resized_crop", load_split("cub", cub, "train"),
         "random_resized_crop"),
        ("ILSVRC mini val, crop_flip", load_split("imagenet", ilsvrc, "val"), "crop_flip"),
    ]  # fmt: skip
    step = model_step_fn(args.batch_size, args.model)
    rates = {name: [] for name, _, _ in sets}
    model_rates = []
    for round_index in range(args.repeats + 1):  # round 0 warms up (tracing, file cache)
        for name, records, augment in sets:
            rate = pipeline_pass(records, args.batch_size, augment, round_index)
            if round_index:
                rates[name].append(rate)
        rate = step()
        if round_index:
            model_rates.append(rate)

    print(f"bench_pipeline; {common.machine_line()}")
    print(f"batch {args.batch_size}, 224 x 224, {args.repeats} interleaved rounds after a "
          f"warm-up round; model: {args.model} + ADL training step")  # fmt: skip
    print(f"| set | images | pipeline img/s | {args.model} img/s | ratio (median, min-max) "
          "| target |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, records, _ in sets:
        ratios = common.pair_ratios(rates[name], model_rates)
        med = common.stats(ratios)[0]
        print(f"| {name} | {len(records)} | {common.fmt(rates[name], '', 0)} | "
              f"{common.fmt(model_rates, '', 2)} | {common.fmt_ratio(ratios, 0)} | "
              f">= 3x {'PASS' if med >= 3 else 'FAIL'} |")  # fmt: skip


if __name__ == "__main__":
    main()
