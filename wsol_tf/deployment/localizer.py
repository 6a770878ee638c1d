"""Localize arbitrary images with a trained model: classes, a box in original pixels, overlay.

Each image is resized (no crop, so the whole image is seen) to the network input, the score
map of the top-1 class gives a box (largest contour at the CAM threshold, wsolevaluation's
rule), and the box is scaled back to the original image's pixels.
"""

import os

import cv2
import numpy as np
import tensorflow as tf

from wsol_tf.data import transforms
from wsol_tf.data.pipeline import decode_image
from wsol_tf.evaluation.boxes import box_from_scoremap, rescale_boxes
from wsol_tf.evaluation.extractors import ScoreMapper
from wsol_tf.evaluation.visualize import draw_boxes, overlay_heatmap, save_png

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def find_images(paths):
    """Files given directly, plus image files (by extension) found under given folders.

    Args:
        paths: file or folder paths.

    Returns:
        List of file paths: files in the order given, each folder's images sorted.

    Raises:
        FileNotFoundError naming a path that does not exist; ValueError when nothing is found.
    """
    found = []
    for path in paths:
        if os.path.isdir(path):
            for root, _, files in sorted(os.walk(path)):
                found.extend(
                    os.path.join(root, f)
                    for f in sorted(files)
                    if f.lower().endswith(IMAGE_EXTENSIONS)
                )
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not found:
        raise ValueError(f"no image found in {list(paths)}")
    return found


def read_image(path):
    """(H, W, 3) float32 RGB in [0, 255]; errors name the file."""
    try:
        return decode_image(tf.constant(path))
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
        raise ValueError(f"{path}: cannot decode as an image ({error.message})") from None


def box_to_original(box, input_hw, original_hw):
    """Input-pixel box -> original pixels (scaled, rounded, clipped to the image).

    Args:
        box: (4,) box (x0, y0, x1, y1) in network-input pixels.
        input_hw: (h, w) of the network input.
        original_hw: (H, W) of the original image.

    Returns:
        List of 4 ints.
    """
    scaled = rescale_boxes(np.asarray(box, np.float64), input_hw, original_hw)  # (4,)
    height, width = original_hw
    upper = np.array([width - 1, height - 1, width - 1, height - 1])
    return [int(v) for v in np.clip(np.rint(scaled), 0, upper)]


def localize(scorer, class_names, path, *, cam_threshold=0.2, top_k=5, out_dir=None):
    """One image: top classes with softmax scores, the top-1 class's box, an overlay.

    Args:
        scorer: a ``wsol_tf.evaluation.extractors.ScoreMapper``.
        class_names: name per class index (or None for indices only).
        path: image file.
        cam_threshold: CAM threshold tau of the box.
        top_k: how many classes to list.
        out_dir: where the overlay PNG goes (None: no picture).

    Returns:
        JSON-serialisable dict: ``image``, ``size`` [H, W], ``top_classes`` (list of
        {``index``, ``name``, ``score``}), ``box`` [x0, y0, x1, y1] in original pixels,
        ``box_input`` in input pixels, ``overlay`` (path or None).
    """
    image = read_image(path)  # (H, W, 3)
    original_hw = tuple(int(s) for s in image.shape[:2])
    input_hw = scorer.image_size
    resized, _ = transforms.resize_with_boxes(image, tf.zeros((0, 4)), input_hw)
    batch = resized[None]  # (1, h, w, 3)
    logits = scorer.logits(batch)[0]  # (C,)
    probs = tf.nn.softmax(logits.astype(np.float64)).numpy()
    order = np.argsort(-probs, kind="stable")[: max(1, top_k)]
    _, maps = scorer(batch, order[:1])
    box_input = box_from_scoremap(maps[0], cam_threshold)
    box = box_to_original(box_input, input_hw, original_hw)
    overlay_path = None
    if out_dir:
        heat = cv2.resize(maps[0], (original_hw[1], original_hw[0]), interpolation=cv2.INTER_LINEAR)
        pixels = np.clip(image.numpy(), 0, 255).astype(np.uint8)
        picture = draw_boxes(overlay_heatmap(pixels, np.clip(heat, 0, 1)), None, box)
        stem = os.path.splitext(os.path.basename(path))[0]
        overlay_path = os.path.join(out_dir, f"{stem}.png")
        suffix = 1
        while os.path.exists(overlay_path):
            overlay_path = os.path.join(out_dir, f"{stem}_{suffix}.png")
            suffix += 1
        save_png(overlay_path, picture)
    return {
        "image": path,
        "size": list(original_hw),
        "top_classes": [
            {
                "index": int(c),
                "name": class_names[c] if class_names else str(int(c)),
                "score": float(probs[c]),
            }
            for c in order
        ],
        "box": box,
        "box_input": [int(v) for v in box_input],
        "cam_threshold": float(cam_threshold),
        "overlay": overlay_path,
    }


def make_scorer(model, cam="classic"):
    """``ScoreMapper`` for ``localize`` (kept here so callers need one import); ``cam`` is
    an extractor name or a ``CamSpec``."""
    return ScoreMapper(model, cam)
