"""Trainer start-up: the first training call (trace + one step) of the one-step function
against the step loop it replaced for `steps_per_loop=1`, and their later steps.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_trace.py [--quick] [--repeats=5]

With the default `steps_per_loop=1` the Trainer compiles `_distributed_single_step`; before,
it compiled `_distributed_loop`, whose graph holds the step twice (a first step that fixes
the structure of the sums, and the `tf.range` loop body), so every run traced its step twice.
Each round builds two fresh Trainers of the same config (fresh tf.functions, so each first
call traces) and times the first call of each, then 6 later calls of each interleaved
(`later step`: their median), the sides taking turns at going first. Ratio = loop /
one-step (> 1: the one-step function is faster). Same model, batch (in-memory, as in
bench_training.py), optimizer and seed on both sides.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from bench_training import NUM_CLASSES, batch, fake_records  # noqa: E402

# (model, image size, batch); --quick (make bench) runs the first only.
CASES = (("tinyvgg", 64, 8), ("efficientnet_lite0", 224, 8))


STEADY_CALLS = 6  # later calls per round and side, interleaved; the round keeps the median


def fresh_trainer(model, size, batch_size, workdir, variant):
    """A fresh Trainer's training call (`variant` "loop": the function used before)."""
    import tensorflow as tf

    from wsol_tf.runs.config import TrainConfig
    from wsol_tf.training.trainer import Trainer

    config = TrainConfig.from_settings(
        model=model, method="adl", image_size=(size, size), batch_size=batch_size, lr=0.01,
        weight_decay=0.0, epochs=1, steps_per_epoch=2, workdir=workdir, tensorboard=False,
    )  # fmt: skip
    strategy = tf.distribute.get_strategy()
    trainer = Trainer.from_config(
        config, fake_records(batch_size * 2, NUM_CLASSES), strategy, lambda *_: 0
    )
    if variant == "loop":
        trainer._train_loop = tf.function(trainer._distributed_loop)
    images, labels = batch(size, batch_size)
    data = tf.data.Dataset.from_tensors({"image": images, "label": labels}).repeat()
    iterator = iter(strategy.distribute_datasets_from_function(lambda _: data))
    one = tf.constant(1)

    def call():
        start = time.perf_counter()
        float(trainer._train_loop(iterator, one)["loss"])
        return time.perf_counter() - start

    return call


def child(model, size, batch_size, repeats):
    import statistics

    first = {"one_step": [], "loop": []}
    steady = {"one_step": [], "loop": []}
    with tempfile.TemporaryDirectory() as root:
        for index in range(repeats + 1):  # round 0 warms TensorFlow's global caches
            # The sides take turns at going first, so an order effect does not bias the ratio.
            order = ("one_step", "loop") if index % 2 else ("loop", "one_step")
            calls, firsts, later = {}, {}, {v: [] for v in order}
            for variant in order:
                workdir = os.path.join(root, f"{variant}{index}")
                calls[variant] = fresh_trainer(model, size, batch_size, workdir, variant)
                firsts[variant] = calls[variant]()
            for _ in range(STEADY_CALLS):
                for variant in order:
                    later[variant].append(calls[variant]())
            if index:
                for variant in order:
                    first[variant].append(firsts[variant])
                    steady[variant].append(statistics.median(later[variant]))
    common.emit_result({"first": first, "steady": steady})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tinyvgg only")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    common.check_repeats(args.repeats)
    if args.child:
        model, size, batch_size = args.child.split(",")
        child(model, int(size), int(batch_size), args.repeats)
        return
    print(f"bench_trace; {common.machine_line()}")
    print(f"float32, ADL, SGD, in-memory batch, {args.repeats} interleaved rounds")
    print(
        "| model | size | batch | first call: one-step | first call: loop | loop / one-step "
        "(median, min-max) | later step: one-step | later step: loop | loop / one-step |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for model, size, batch_size in CASES[:1] if args.quick else CASES:
        r = common.run_child(
            __file__, [f"--child={model},{size},{batch_size}", f"--repeats={args.repeats}"]
        )
        first = common.pair_ratios(r["first"]["loop"], r["first"]["one_step"])
        steady = common.pair_ratios(r["steady"]["loop"], r["steady"]["one_step"])
        print(
            f"| {model} | {size} | {batch_size} | {common.fmt(r['first']['one_step'])} | "
            f"{common.fmt(r['first']['loop'])} | {common.fmt_ratio(first)} | "
            f"{common.fmt(r['steady']['one_step'])} | {common.fmt(r['steady']['loop'])} | "
            f"{common.fmt_ratio(steady)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
