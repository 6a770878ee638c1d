"""Our extractors against tf-keras-vis 0.8.7: images per second on the same model and batch.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/bench_vs_tf_keras_vis.py [--models
        tinyvgg,efficientnet_lite0] [--batch 8] [--repeats 5] [--scorecam_channels 16]

Each library produces what a user of it gets: maps at the input size, min-max normalized.
Ours: `ScoreMapper(model, spec)(images, classes)` (the evaluator's path: the extractor in a
tf.function, traced before timing, then cv2's bicubic upsampling and normalization in
numpy). tf-keras-vis: its visualizer's call with its defaults (`expand_cam=True`,
`normalize_cam=True`: scipy's zoom and its normalize), in eager mode as it runs, given a
plain functional `keras.Model` (images -> logits) made of the same layer objects and
`penultimate_layer` = the feature map. Grad-CAM, Grad-CAM++ and Layer-CAM run on the batch;
Score-CAM on one image and its `--scorecam_channels` channels of largest spatial variance in
both (our `scorecam_max_channels`, tf-keras-vis's `max_N`): with more images tf-keras-vis
scores the union of every image's top channels for each image, more work than ours, so the
same batch would not be the same work. Rounds are interleaved (ours, theirs, ours, ...);
the ratio is ours img/s over theirs img/s in the same round, median (min-max) over the
rounds. Target: >= 1.0x for every extractor both libraries have.

EfficientNet-Lite0 runs with its ImageNet weights and 1000-way head (the pip package's file,
offline) at 224; TinyVGG with random weights at 96. Images are uniform noise in [0, 255]
(speed does not depend on them), classes drawn at random.
"""

import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

SIZES = {"tinyvgg": 96, "efficientnet_lite0": 224}
EXTRACTORS = ("gradcam", "gradcampp", "layercam", "scorecam")


def build_model(name):
    """(WSOLModel, description): EfficientNet-Lite0 with its ImageNet head, or random weights."""
    from wsol_tf import models

    size = SIZES.get(name, 224)
    if name == "efficientnet_lite0":
        from wsol_tf.models.check_pretrained import imagenet_model

        model, _ = imagenet_model(name, image_size=(size, size))
        return model, f"{name}, ImageNet weights and 1000-way head, {size}x{size}"
    model = models.build(name, 200, image_size=size, seed=0)
    return model, f"{name}, random weights, 200 classes, {size}x{size}"


def visualizers(model):
    """{extractor: (tf-keras-vis class, its call's options)} and the model it sees."""
    import keras

    with warnings.catch_warnings():  # tf-keras-vis imports scipy.ndimage.interpolation
        warnings.simplefilter("ignore", DeprecationWarning)
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
        from tf_keras_vis.layercam import Layercam
        from tf_keras_vis.scorecam import Scorecam

    plain = keras.Model(model.backbone.input, model.head(model.backbone.output)["logits"])
    kinds = {
        "gradcam": Gradcam,
        "gradcampp": GradcamPlusPlus,
        "layercam": Layercam,
        "scorecam": Scorecam,
    }
    return {name: kind(plain, clone=False) for name, kind in kinds.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tinyvgg,efficientnet_lite0")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--scorecam_channels", type=int, default=16, help="channels Score-CAM scores (both)"
    )
    args = parser.parse_args()
    common.check_repeats(args.repeats)

    import keras
    from tf_keras_vis.utils.scores import CategoricalScore

    from wsol_tf.evaluation.extractors import CamSpec, ScoreMapper

    keras.utils.disable_interactive_logging()  # tf-keras-vis's Score-CAM calls predict
    warnings.filterwarnings("ignore", message="The structure of `inputs`")
    print(f"bench_vs_tf_keras_vis; {common.machine_line()}", flush=True)
    rows = []
    for name in args.models.split(","):
        model, what = build_model(name)
        theirs = visualizers(model)
        rng = np.random.default_rng(0)
        size = model.image_size
        batch = rng.uniform(0, 255, (args.batch, *size, 3)).astype(np.float32)
        labels = rng.integers(0, model.num_classes, args.batch)
        print(f"model: {what}", flush=True)
        for extractor in EXTRACTORS:
            n = 1 if extractor == "scorecam" else args.batch
            images, classes = batch[:n], labels[:n]
            spec = CamSpec(extractor, scorecam_max_channels=args.scorecam_channels)
            mapper = ScoreMapper(model, spec)
            options = {"penultimate_layer": "features", "seek_penultimate_conv_layer": False}
            if extractor == "scorecam":
                options["max_N"] = args.scorecam_channels
            score = CategoricalScore([int(c) for c in classes])
            visualizer = theirs[extractor]
            ours_maps = mapper(images, classes)[1]  # traces; also the shapes to compare
            theirs_maps = np.asarray(visualizer(score, images, **options))
            assert ours_maps.shape == theirs_maps.shape == (n, *size), (
                ours_maps.shape,
                theirs_maps.shape,
            )
            times = common.interleaved(
                {
                    "ours": lambda m=mapper, x=images, c=classes: m(x, c),
                    "theirs": lambda v=visualizer, s=score, x=images, o=options: v(s, x, **o),
                },
                args.repeats,
                warmup=1,
            )
            ratio = common.pair_ratios(times["theirs"], times["ours"])  # = img/s ours / theirs
            label = extractor
            if extractor == "scorecam":
                label += f" (1 image, {args.scorecam_channels} channels)"
            rows.append(
                (
                    name,
                    label,
                    n,
                    [n / t for t in times["ours"]],
                    [n / t for t in times["theirs"]],
                    ratio,
                )
            )
            print(f"  {label}: {common.fmt_ratio(ratio, 2)}", flush=True)
    load = os.getloadavg()
    print(
        f"\nbatch {args.batch} (Score-CAM: 1 image), {args.repeats} interleaved rounds after "
        f"one warm-up round; load average {load[0]:.1f} at the end"
    )
    print(
        "| model | extractor | images | ours img/s | tf-keras-vis img/s "
        "| ours / tf-keras-vis (median, min-max) | target >= 1.0x |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, label, n, ours, theirs, ratio in rows:
        verdict = "pass" if common.stats(ratio)[0] >= 1.0 else "fail"
        print(
            f"| {name} | {label} | {n} | {common.fmt(ours, '', 2)} | {common.fmt(theirs, '', 2)} "
            f"| {common.fmt_ratio(ratio, 2)} | {verdict} |"
        )


if __name__ == "__main__":
    main()
