"""ADL layer alone: forward + backward of the current layer vs the both-maps tf.where form.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_adl_layer.py [--repeats 7]

`wsol_tf.layers.ADL` runs only the drawn branch (tf.cond). The reference subclass below
is the earlier form: both maps computed, `tf.where` picks one, so the importance map's
backward pass runs every step. Both see the same inputs and the same draws (same seed);
each round runs `--iters` training calls inside one tf.function (tf.range loop, so call
overhead is out) on the ADL input shapes of ResNet50 and MobileNetV1 at 224, batch 32,
drop_rate 0.75. Prints the per-round ratio where / cond (median, min, max).
"""

import argparse
import os
import sys

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

from wsol_tf.layers import ADL  # noqa: E402

# ADL inputs at 224 (default positions): ResNet50 stage 4 end and stage 5; MobileNetV1.
SHAPES = {
    "resnet50": ((14, 14, 1024), (14, 14, 2048)),
    "mobilenetv1": ((28, 28, 256), (14, 14, 512), (14, 14, 1024)),
}


class WhereADL(ADL):
    """The earlier ADL call: both maps, then tf.where (reference for this benchmark)."""

    def call(self, inputs, training=None):
        if not training:
            return inputs
        drop_mask, importance_map = self.attention_maps(inputs)
        use_drop_mask = self._draw_uniform() < self.drop_rate
        selected = tf.where(use_drop_mask, drop_mask, importance_map)
        return inputs * tf.cast(selected, inputs.dtype)


def round_fn(layer_cls, shapes, batch, iters):
    layers = [layer_cls(drop_rate=0.75, gamma=0.9, seed=i) for i in range(len(shapes))]
    rng = tf.random.Generator.from_seed(0)
    inputs = [rng.normal((batch, *shape)) for shape in shapes]

    @tf.function
    def run():
        total = tf.constant(0.0)
        for _ in tf.range(iters):
            for layer, x in zip(layers, inputs, strict=True):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = layer(x, training=True)
                total += tf.reduce_sum(tape.gradient(y, x))
        return total

    return lambda: float(run())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--iters", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    common.check_repeats(args.repeats)
    print(f"bench_adl_layer; {common.machine_line()}")
    print(f"batch {args.batch}, {args.iters} forward+backward calls per round, "
          f"{args.repeats} interleaved rounds")  # fmt: skip
    print("| ADL inputs of | tf.where (both maps) per call | tf.cond (drawn map) per call | "
          "ratio where/cond (median, min-max) |")  # fmt: skip
    print("|---|---|---|---|")
    for model, shapes in SHAPES.items():
        times = common.interleaved(
            {
                "where": round_fn(WhereADL, shapes, args.batch, args.iters),
                "cond": round_fn(ADL, shapes, args.batch, args.iters),
            },
            args.repeats,
        )
        per_call = {k: [1e3 * t / args.iters for t in v] for k, v in times.items()}
        ratios = common.pair_ratios(times["where"], times["cond"])
        print(f"| {model} {shapes} | {common.fmt(per_call['where'], 'ms', 1)} | "
              f"{common.fmt(per_call['cond'], 'ms', 1)} | {common.fmt_ratio(ratios, 2)} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
