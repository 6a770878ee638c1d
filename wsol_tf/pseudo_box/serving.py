"""The pseudo-box localizer for anyone's images: `localize` and the exported SavedModel.

As the CAM path (`deployment.localize_ops.localize_batch`), each image is resized (bilinear,
no crop) to the network input; the WSOL run's classifier gives the class scores and the
regressor the box, which is scaled to the original image's pixels by the same rule
(`localize_ops.boxes_to_original`). Outputs, with the CAM export's names: ``scores``,
``classes``, ``box``, ``box_original``, ``box_found`` (always True: a regressor always gives
a box); there is no ``cam`` (no heat map).
"""

import os
import sys

import tensorflow as tf

from wsol_tf.deployment.localize_ops import boxes_to_original, checked_images
from wsol_tf.files import write_folder_atomic, write_json
from wsol_tf.pseudo_box.regressor import build_regressor, predict_boxes, to_input_pixels

OUTPUTS = ("scores", "classes", "box", "box_original", "box_found")


def localize_boxes(classifier, regressor, images, image_size):
    """images: (B, H, W, 3) float RGB in [0, 255] -> dict of `OUTPUTS` (see the module)."""
    image_size = [int(s) for s in image_size]
    images, original = checked_images(images)
    resized = tf.image.resize(images, image_size, method="bilinear")
    logits = tf.cast(classifier(resized, training=False)["logits"], tf.float32)
    boxes = to_input_pixels(predict_boxes(regressor, resized), image_size)
    return {
        "scores": tf.nn.softmax(logits),
        "classes": tf.argmax(logits, axis=-1, output_type=tf.int32),
        "box": boxes,
        "box_original": boxes_to_original(boxes, image_size, original),
        "box_found": tf.ones(tf.shape(boxes)[:1], tf.bool),
    }


class PseudoBoxLocalizer:
    """`localize_boxes` as one traced function; called as `deployment.localizer.Localizer`
    (its `cam_threshold` is ignored), so `deployment.localizer.localize` takes it."""

    def __init__(self, classifier, regressor):
        self.classifier, self.regressor = classifier, regressor
        self.image_size = tuple(int(s) for s in regressor.image_size)
        self._run = tf.function(
            lambda images: localize_boxes(classifier, regressor, images, self.image_size),
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
        )

    def __call__(self, images, cam_threshold=None):
        """(B, H, W, 3) float RGB in [0, 255] -> dict of numpy outputs."""
        outputs = self._run(tf.convert_to_tensor(images, tf.float32))
        return {k: v.numpy() for k, v in outputs.items()}


class PseudoBoxModule(tf.Module):
    """The exported module: ``serve(images)`` for a batch of same-size RGB images."""

    def __init__(self, classifier, regressor, image_size):
        super().__init__()
        self.classifier, self.regressor = classifier, regressor
        self.image_size = [int(s) for s in image_size]

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def serve(self, images):
        return localize_boxes(self.classifier, self.regressor, images, self.image_size)


def load(folder, print_fn=None):
    """(classifier, regressor, manifest) of a pseudo-box folder (`manifest.read_manifest`):
    the WSOL run's model at its named checkpoint, the regressor with its weights."""
    from wsol_tf.pseudo_box.manifest import read_manifest
    from wsol_tf.runs.checkpoints import load_model, restore_model

    if print_fn is None:

        def print_fn(line):
            print(line, file=sys.stderr)

    manifest = read_manifest(folder)
    classifier, _, _ = load_model(
        manifest["wsol_run"], manifest["wsol_checkpoint"], print_fn=print_fn
    )
    regressor = build_regressor(manifest["model"], tuple(manifest["image_size"]))
    try:
        restore_model(regressor, manifest["regressor"])
    except (AssertionError, ValueError) as error:
        first = (str(error).strip().splitlines() or [repr(error)])[0]
        raise ValueError(
            f"{manifest['regressor']}: does not fit the {manifest['model']} regressor of "
            f"{os.path.join(folder, 'pseudo_box.json')} ({first})"
        ) from None
    return classifier, regressor, manifest


def export(classifier, regressor, out_dir, class_names=None):
    """Writes the SavedModel (``serving_default`` = `PseudoBoxModule.serve`, `classes.json`
    beside it) to `out_dir`, replacing an earlier export only once complete. Returns it."""
    module = PseudoBoxModule(classifier, regressor, regressor.image_size)

    def write(folder):
        tf.saved_model.save(module, folder, signatures={"serving_default": module.serve})
        if class_names is not None:
            write_json(os.path.join(folder, "classes.json"), list(class_names), indent=1)

    return write_folder_atomic(out_dir, write)
