"""Where a pseudo-box lives, without TensorFlow: network-input pixels of the evaluation view
<-> the original image's pixels, and normalized coordinates.

The evaluator sees an image resized to `resize_size` and center-cropped to `image_size`
(`data.transforms.eval_transform`; `resize_size == image_size`: a plain resize), and its boxes
are in those input pixels (`evaluation.boxes`: a CAM box's x1 is cv2's x + w, one past the
last pixel, clipped to w - 1; GT boxes are `gt_boxes_for_input`'s). A pseudo-box drawn there
is taken back to the original image's pixels (`input_to_original`), so the training pipeline
crops and flips it with the image as it does GT boxes (`data.transforms`: continuous edges,
x -> W - x under a flip). The regressor predicts boxes normalized by the input's (w, h).
"""

from __future__ import annotations

import numpy as np

from wsol_tf.data.sizes import as_hw, default_resize_size


def eval_geometry(config):
    """(image_size, resize_size) of a run's evaluation view, as `evaluation.api.evaluate`
    hands them to the evaluator (`resize_size` None there means the 256/224 default)."""
    image_size = as_hw(config.image_size)
    resize = config.eval_resize_size
    return image_size, as_hw(resize) if resize is not None else default_resize_size(image_size)


def crop_offset_xy(image_size, resize_size):
    """(x, y) of the evaluation view's center crop inside the resized image."""
    image_h, image_w = as_hw(image_size)
    resize_h, resize_w = as_hw(resize_size)
    return (resize_w - image_w) // 2, (resize_h - image_h) // 2


def input_to_original(boxes, original_hw, image_size, resize_size):
    """Boxes (..., 4) in the evaluation view's input pixels -> the original image's pixels
    (float64): undo the center crop, then the resize. The inverse of the view's geometry for
    continuous coordinates (`gt_boxes_for_input` before its truncation)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    offset_x, offset_y = crop_offset_xy(image_size, resize_size)
    resize_h, resize_w = as_hw(resize_size)
    height, width = (float(s) for s in original_hw)
    shifted = boxes + np.array([offset_x, offset_y, offset_x, offset_y], dtype=np.float64)
    return shifted * np.array([width / resize_w, height / resize_h] * 2)


def normalize(boxes, image_size):
    """Input-pixel boxes (..., 4) -> coordinates in [0, 1] (divided by w, h, w, h)."""
    height, width = as_hw(image_size)
    return np.asarray(boxes, dtype=np.float64) / np.array([width, height, width, height], float)
