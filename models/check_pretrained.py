"""Checks a port of ImageNet weights: top-1 / top-5 of the ImageNet head on ILSVRC val images.

    python -m wsol_tf.models.check_pretrained --model=efficientnet_lite0 \\
        --imagenet_dir=<ILSVRC layout: val/, LOC_synset_mapping.txt> [--limit=N] [--json]

The backbone is built with `--pretrained` (default "imagenet": the pip package's weights) and
the file's own 1000-way classifier (`_fc.weight`, `_fc.bias`) as its head; images are resized
to resolution + 32 and center-cropped to the variant's resolution (the TF EfficientNet
evaluation's 0.875 crop). Class indices follow LOC_synset_mapping.txt (the standard order of
the 1000 classes the weights were trained on). A wrong batch-norm epsilon, padding or input
normalization costs many points; a correct EfficientNet-Lite0 port reaches about 83% top-1 on
the 1,300 images of ILSVRC2012_val_mini (EfficientNet-Lite0's published top-1 is 75.1% on the
full validation set).
"""

import json
import sys
import time

import numpy as np
from absl import app, flags, logging

FLAGS = flags.FLAGS


def define_flags():
    """Defined only when run as a program: other CLIs define flags of the same names."""
    flags.DEFINE_string("model", "efficientnet_lite0", "Backbone with a torch ImageNet head.")
    flags.DEFINE_string("imagenet_dir", None, "ILSVRC folder: val/ images, boxes, synset mapping.")
    flags.DEFINE_string("pretrained", "imagenet", "'imagenet' (pip package) or a .pth file.")
    flags.DEFINE_integer("limit", 0, "Evaluate the first N images only (0: all).")
    flags.DEFINE_integer("image_size", 0, "Input size (0: the variant's ImageNet resolution).")
    flags.DEFINE_integer("batch_size", 50, "Images per forward pass.")
    flags.DEFINE_boolean("json", False, "Print the result as one JSON object.")


def imagenet_model(name, pretrained="imagenet", image_size=None):
    """The backbone with its ImageNet classifier from the torch file; returns (model, path).

    Raises:
        ValueError: the backbone has no torch ImageNet head.
    """
    from wsol_tf import models
    from wsol_tf.models.efficientnet_lite import TORCH_HEAD
    from wsol_tf.models.torch_pretrained import load_torch

    spec = models.spec(name)
    if spec.weights.torch is None:
        torch_backbones = [n for n, s in models.BACKBONES.items() if s.weights.torch is not None]
        raise ValueError(
            f"--model={name}: no torch ImageNet head to check; valid: {', '.join(torch_backbones)}."
        )
    size = image_size or spec.weights.resolution
    model = models.build(name, 1000, method="cam", pretrained=pretrained, image_size=size)
    source = models.pretrained_report(model).source
    loaded, _, missing = load_torch(model, TORCH_HEAD, source)
    if missing or loaded != ["classifier"]:
        raise ValueError(f"{source}: no ImageNet classifier ({', '.join(missing)} missing).")
    return model, source


def check(name, imagenet_dir, pretrained="imagenet", limit=0, image_size=None, batch_size=50):
    """Top-1 / top-5 (%) of `name`'s ImageNet head on `imagenet_dir`'s val split.

    Returns:
        {"model", "weights", "imagenet_dir", "num_images", "top1", "top5", "image_size",
        "seconds"}.
    """
    from wsol_tf.data.datasets import load_split
    from wsol_tf.data.pipeline import make_dataset

    records = load_split("imagenet", imagenet_dir, "val")
    if records.num_classes != 1000:
        raise ValueError(
            f"--imagenet_dir={imagenet_dir}: {records.num_classes} classes, the ImageNet head "
            "has 1000 (is LOC_synset_mapping.txt complete?)."
        )
    if limit:
        records = records.subset(np.arange(min(limit, len(records))))
    start = time.perf_counter()
    model, source = imagenet_model(name, pretrained, image_size)
    size = model.image_size
    dataset = make_dataset(
        records,
        training=False,
        image_size=size,
        resize_size=(size[0] + 32, size[1] + 32),
        batch_size=batch_size,
    )
    top1 = top5 = count = 0
    for batch in dataset:
        logits = model(batch["image"], training=False)["logits"].numpy()
        labels = batch["label"].numpy()
        best5 = np.argsort(-logits, axis=1)[:, :5]
        top1 += int(np.sum(best5[:, 0] == labels))
        top5 += int(np.sum(np.any(best5 == labels[:, None], axis=1)))
        count += len(labels)
    if count == 0:
        raise ValueError(f"--imagenet_dir={imagenet_dir}: no readable validation image.")
    return {
        "model": name,
        "weights": source,
        "imagenet_dir": imagenet_dir,
        "num_images": count,
        "image_size": list(size),
        "top1": 100.0 * top1 / count,
        "top5": 100.0 * top5 / count,
        "seconds": round(time.perf_counter() - start, 1),
    }


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from wsol_tf import models
    from wsol_tf.models.torch_weights import TorchWeightsError

    if not FLAGS.imagenet_dir:
        print("error: --imagenet_dir=<ILSVRC folder with val/> is required.", file=sys.stderr)
        return 2
    try:
        result = check(
            FLAGS.model,
            FLAGS.imagenet_dir,
            pretrained=FLAGS.pretrained,
            limit=FLAGS.limit,
            image_size=FLAGS.image_size or None,
            batch_size=FLAGS.batch_size,
        )
    except (
        FileNotFoundError,
        ValueError,
        TorchWeightsError,
        models.PretrainedWeightsUnavailable,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if FLAGS.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['model']} on {result['num_images']} images of {result['imagenet_dir']} "
            f"at {result['image_size'][0]}x{result['image_size'][1]}: top-1 "
            f"{result['top1']:.2f}%, top-5 {result['top5']:.2f}% ({result['seconds']} s; "
            f"weights {result['weights']})"
        )
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
