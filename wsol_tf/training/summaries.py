"""Pictures for TensorBoard: CAM overlays of a few fixed images, drawn each epoch."""

import numpy as np

from wsol_tf.data.pipeline import make_dataset
from wsol_tf.evaluation.boxes import box_from_scoremap
from wsol_tf.evaluation.extractors import ScoreMapper
from wsol_tf.evaluation.visualize import overlay_grid


def cam_overlay_image(model, records, config, num_images=4, cam_threshold=0.2):
    """(H', W', 3) float32 in [0, 1]: image | CAM | overlay (GT red, predicted green) rows
    for the first `num_images` images of `records` at the eval transform."""
    batch = next(
        iter(
            make_dataset(
                records,
                training=False,
                image_size=config.image_size,
                resize_size=config.eval_resize_size,
                batch_size=num_images,
            )
        )
    )
    labels = batch["label"].numpy()
    _, maps = ScoreMapper(model)(batch["image"], labels)  # the method's maps, classic CAM
    # Pictures only: the pipeline's boxes, truncated to pixels as int() would.
    boxes = np.floor(np.maximum(batch["boxes"].numpy(), 0.0)).astype(np.int64)
    counts = batch["num_boxes"].numpy()
    images = np.clip(batch["image"].numpy(), 0, 255).astype(np.uint8)
    gt = [boxes[i, : max(counts[i], 0)] for i in range(len(labels))]
    predicted = [box_from_scoremap(m, cam_threshold) for m in maps]
    grid = overlay_grid(list(images), list(maps), gt, predicted)
    return grid.astype(np.float32) / 255.0
