"""A self-contained SavedModel: image -> class scores, CAM and box, in TensorFlow ops only.

The signature runs `wsol_tf.deployment.localize_ops.localize_batch`, the same function
`python -m wsol_tf.localize` runs, so both give the same boxes (see that module for how the
box is cut without cv2).

It sees the pixels it is given, stored ones for a JPEG decoded by TensorFlow: localize turns
a photo by its EXIF Orientation tag first (`wsol_tf.data.exif`), a caller of the SavedModel
does so itself.

`export` writes a new folder beside the output and then swaps it in
(`wsol_tf.files.write_folder_atomic`): a kill leaves the earlier export whole, or the new one.
"""

import os

import tensorflow as tf

from wsol_tf.deployment.localize_ops import component_boxes, localize_batch
from wsol_tf.evaluation import extractors
from wsol_tf.files import write_folder_atomic, write_json

__all__ = ["LocalizerModule", "component_boxes", "export"]


class LocalizerModule(tf.Module):
    """The exported module: ``serve(images)`` for a batch of same-size RGB images.

    Args:
        model: trained WSOL model (``wsol_tf.models.build``) with its weights.
        image_size: (h, w) network input.
        cam_threshold: tau of the box.
        cam: score-map extractor (``wsol_tf.evaluation.extractors``), through the model's
            method (``Method.score_maps``), as the evaluator computes maps.
    """

    def __init__(self, model, image_size, cam_threshold=0.2, cam="classic"):
        super().__init__()
        self.model = model
        self.spec = extractors.prepare(model, cam)
        self.extractor = extractors.build(self.spec)
        self.image_size = [int(s) for s in image_size]
        self.cam_threshold = tf.Variable(float(cam_threshold), trainable=False)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def serve(self, images):
        """images: (B, H, W, 3) float RGB in [0, 255] -> dict of outputs.

        Returns ``scores`` (B, C) softmax, ``classes`` (B,) top-1, ``cam`` (B, h, w) the top-1
        class's normalised CAM at input size, ``box`` (B, 4) int32 in input pixels,
        ``box_original`` (B, 4) int32: the given images' pixels the box covers (clipped), and
        ``box_found`` (B,) bool: False for a flat map (nothing above the threshold).
        """
        return localize_batch(
            self.model, self.extractor, images, self.image_size, self.cam_threshold
        )


def export(model, image_size, out_dir, cam_threshold=0.2, cam="classic", class_names=None):
    """Writes a SavedModel whose ``serving_default`` signature is ``LocalizerModule.serve``
    (and ``classes.json`` beside it when `class_names` are given) to `out_dir`, replacing an
    earlier export there only once the new one is complete. Returns `out_dir`."""
    module = LocalizerModule(model, image_size, cam_threshold, cam)

    def write(folder):
        tf.saved_model.save(module, folder, signatures={"serving_default": module.serve})
        if class_names is not None:
            write_json(os.path.join(folder, "classes.json"), list(class_names), indent=1)

    return write_folder_atomic(out_dir, write)
