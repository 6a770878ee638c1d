"""Our decode (`wsol_tf.data.decode.decode_uint8`) against TensorFlow's bare
`tf.io.decode_image`, in tf.data: the cost of building a fresh pipeline (tracing the decode
graph, which every `make_dataset` call pays: each training run, each evaluation) and of
decoding once built.

Our decode adds, per image, one Python inspection (`decoder_of`, `header_problem`: the
decompression-bomb bound, GIF offsets) and a switch over four decoders (JPEG with the
accurate IDCT, colour-table BMPs, WebP with alpha, the rest). Interleaved rounds in one
process, after a warm-up round:
  * build: a fresh `Dataset.map` of 8 CUB mini JPEGs, iterated once (trace + 8 decodes);
  * decode: one pass of an already built pipeline over 200 CUB mini JPEGs.
Ratio = ours / TensorFlow's per round (median, min, max).

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_decode.py [--repeats=7]
"""

import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.environ.get(
    "WSOL_TF_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data")
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--data", default=os.path.join(DEFAULT_DATA, "CUB_200_2011_mini"))
    args = parser.parse_args()
    common.check_repeats(args.repeats)
    files = sorted(glob.glob(os.path.join(args.data, "images", "*", "*.jpg")))
    if len(files) < 200:
        sys.exit(f"need 200 JPEGs under {args.data}/images; found {len(files)}")

    import tensorflow as tf

    from wsol_tf.data.decode import decode_uint8

    def bare(data):
        return tf.io.decode_image(data, channels=3, expand_animations=False)

    def pipeline(decode, paths):
        return tf.data.Dataset.from_tensor_slices(paths).map(
            lambda p: tf.shape(decode(tf.io.read_file(p))), num_parallel_calls=2
        )

    def drain(dataset):
        return sum(1 for _ in dataset)

    built = {"ours": pipeline(decode_uint8, files[:200]), "tf": pipeline(bare, files[:200])}
    times = common.interleaved(
        {
            "build_ours": lambda: drain(pipeline(decode_uint8, files[:8])),
            "build_tf": lambda: drain(pipeline(bare, files[:8])),
            "decode_ours": lambda: drain(built["ours"]),
            "decode_tf": lambda: drain(built["tf"]),
        },
        args.repeats,
    )
    print(common.machine_line())
    for what in ("build", "decode"):
        ours, theirs = times[f"{what}_ours"], times[f"{what}_tf"]
        ratio = common.fmt_ratio(common.pair_ratios(ours, theirs))
        print(f"{what}: ours {common.fmt(ours)} vs tf.io.decode_image {common.fmt(theirs)}: "
              f"ours / tf {ratio}")  # fmt: skip


if __name__ == "__main__":
    main()
