"""Parameters and inference FLOPs of each method's model against vanilla CAM's.

FLOPs come from TensorFlow's graph profiler on the frozen inference graph (batch 1): it
counts convolutions and matmuls as 2 x MACs and the element-wise ops it has statistics
for; it skips a few (e.g. the sigmoid), so `--analytic` also prints RFGA's own count.
Methods whose inference graph is CAM's (ADL, RDAP: identity at inference; EIL: one branch)
show 0 extra.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/method_cost.py --model=tinyvgg --size=96
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/method_cost.py --model=vgg16gap --size=224 \
        --classes=200
"""

import argparse


def profile_flops(model, size):
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec([1, *size, 3], tf.float32)
    function = tf.function(lambda x: model(x, training=False)["logits"]).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(function)
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(frozen.graph.as_graph_def(), name="")
        options = (
            tf.compat.v1.profiler.ProfileOptionBuilder(
                tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
            )
            .with_empty_output()
            .build()
        )
        result = tf.compat.v1.profiler.profile(graph=graph, cmd="op", options=options)
    return int(result.total_float_ops)


def rfga_analytic_flops(model, kernel_size=3):
    """RFGA's FLOPs by hand, per position (H, W, C): three means 3HWC; the views' 1-D
    convolutions 2kC + (2k + 1)(H + W)C; the expansion sum 2HWC and sigmoid HWC;
    F * A, * scale, + F: 3HWC. Total 9HWC + 2kC + (2k + 1)(H + W)C."""
    from wsol_tf.layers import RFGA

    total = 0
    for layer in model.backbone.layers:
        if isinstance(layer, RFGA):
            _, h, w, c = layer.output.shape
            k = kernel_size
            total += 9 * h * w * c + 2 * k * c + (2 * k + 1) * (h + w) * c
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="tinyvgg")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--methods", default="cam,adl,eil,rdap,rfga")
    args = parser.parse_args()

    from wsol_tf import models

    size = (args.size, args.size)
    base = None
    for name in args.methods.split(","):
        model = models.build(args.model, args.classes, method=name, image_size=size, seed=0)
        params, flops = model.count_params(), profile_flops(model, size)
        if base is None:
            base = (params, flops)
        line = (
            f"{args.model} {args.size}px {name:5s} positions {','.join(model.method.positions)}: "
            f"params {params:,} (+{params - base[0]:,}, +{100 * (params - base[0]) / base[0]:.3f}%)"
            f", profiler FLOPs {flops:,} (+{flops - base[1]:,}, "
            f"+{100 * (flops - base[1]) / base[1]:.3f}%)"
        )
        if name == "rfga":
            extra = rfga_analytic_flops(model, model.method.params.kernel_size)
            line += f", RFGA by hand {extra:,} (+{100 * extra / base[1]:.3f}% of CAM's)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
