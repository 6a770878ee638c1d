"""Pictures of CAMs and boxes (ADL paper Fig. 3 style), in numpy/cv2.

All images here are RGB uint8 (H, W, 3). cv2 is BGR-minded, so the two places where that
matters convert explicitly: ``cv2.applyColorMap`` output (BGR -> RGB) and ``save_png``
(RGB -> BGR before ``cv2.imwrite``). Colours: ground-truth boxes red, predicted boxes green.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from wsol_tf.files import write_atomic

GT_COLOR = (255, 0, 0)  # red, RGB
PRED_COLOR = (0, 255, 0)  # green, RGB


def _check_image(image, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be an RGB (H, W, 3) array; got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8; got dtype {image.dtype}")
    return image


def colorize_scoremap(scoremap) -> np.ndarray:
    """JET-coloured score map.

    Args:
        scoremap: (H, W) map in [0, 1]; values outside are clipped, NaN/Inf count as 0.

    Returns:
        (H, W, 3) uint8 RGB (blue = low, red = high).
    """
    scoremap = np.asarray(scoremap, dtype=np.float64)
    if scoremap.ndim != 2:
        raise ValueError(f"scoremap must be (H, W); got shape {scoremap.shape}")
    clean = np.clip(np.nan_to_num(scoremap, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
    gray = (clean * 255).astype(np.uint8)  # (H, W)
    return cv2.cvtColor(cv2.applyColorMap(gray, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def overlay_heatmap(image_uint8, scoremap, alpha: float = 0.5) -> np.ndarray:
    """Blend a JET heat map over an image.

    Args:
        image_uint8: (H, W, 3) uint8 RGB image.
        scoremap: (H, W) map in [0, 1] at the image's size.
        alpha: weight of the heat map (0 = image only, 1 = heat map only).

    Returns:
        (H, W, 3) uint8 RGB, ``(1 - alpha) * image + alpha * heatmap`` rounded.
    """
    image = _check_image(image_uint8, "image_uint8")
    if np.shape(scoremap) != image.shape[:2]:
        raise ValueError(
            f"scoremap shape {np.shape(scoremap)} must match the image's (H, W) {image.shape[:2]}"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha}")
    heat = colorize_scoremap(scoremap).astype(np.float64)  # (H, W, 3)
    blend = (1.0 - alpha) * image.astype(np.float64) + alpha * heat  # (H, W, 3)
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def _as_box_rows(boxes) -> np.ndarray:
    """(4,) or (n, 4) boxes -> (n, 4) int array, rounded; None -> (0, 4)."""
    if boxes is None:
        return np.zeros((0, 4), dtype=np.int64)
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return np.zeros((0, 4), dtype=np.int64)
    if boxes.shape[-1] != 4:
        raise ValueError(f"boxes must be shaped (4,) or (n, 4); got {boxes.shape}")
    return np.rint(boxes.reshape(-1, 4)).astype(np.int64)


def draw_boxes(image, gt_boxes, pred_box, thickness: int = 2) -> np.ndarray:
    """Draw GT boxes in red and the predicted box(es) in green, on a copy.

    Boxes are (x0, y0, x1, y1) with x1, y1 inclusive (the +1 pixel convention), so the
    rectangle's outer edge runs through (x0, y0) and (x1, y1). Predicted boxes are drawn last,
    i.e. on top where lines overlap.

    Args:
        image: (H, W, 3) uint8 RGB.
        gt_boxes: (M, 4) or (4,) GT boxes, or None.
        pred_box: (4,) or (n, 4) predicted box(es), or None.
        thickness: line width in pixels.

    Returns:
        (H, W, 3) uint8 RGB copy with the boxes drawn.
    """
    out = np.ascontiguousarray(_check_image(image).copy())
    for boxes, color in ((gt_boxes, GT_COLOR), (pred_box, PRED_COLOR)):
        for x0, y0, x1, y1 in _as_box_rows(boxes):
            cv2.rectangle(out, (int(x0), int(y0)), (int(x1), int(y1)), color, thickness)
    return out


def _put_caption(panel: np.ndarray, text: str) -> None:
    """Write ``text`` in the top-left corner, white with a black outline (in place)."""
    scale = max(0.3, panel.shape[0] / 600.0)
    (_, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    origin = (3, 3 + text_h)
    cv2.putText(panel, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(
        panel, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA
    )


def overlay_grid(
    images,
    scoremaps,
    gt_boxes_list,
    pred_boxes,
    captions: Sequence[str] | None = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """One row per image: image | heat map | overlay with GT (red) and predicted (green) boxes.

    Args:
        images: (N, H, W, 3) uint8 RGB array or a sequence of N such images (same size).
        scoremaps: (N, H, W) maps in [0, 1] or a sequence of N (H, W) maps.
        gt_boxes_list: sequence of N GT box arrays, each (M_i, 4) or (4,) (or None).
        pred_boxes: sequence of N predicted boxes, each (4,) or (n, 4) (or None), or an
            (N, 4) array.
        captions: optional N strings, written small on the left (image) panel of each row.
        alpha: heat map weight in the overlay panel.

    Returns:
        (N * H, 3 * W, 3) uint8 RGB grid.
    """
    images = [_check_image(img, f"images[{i}]") for i, img in enumerate(images)]
    n = len(images)
    if n == 0:
        raise ValueError("overlay_grid needs at least one image")
    height, width = images[0].shape[:2]
    if any(img.shape[:2] != (height, width) for img in images):
        raise ValueError(
            f"all images must share one size; got {sorted({img.shape[:2] for img in images})}"
        )
    for name, seq in (
        ("scoremaps", scoremaps),
        ("gt_boxes_list", gt_boxes_list),
        ("pred_boxes", pred_boxes),
    ):
        if len(seq) != n:
            raise ValueError(f"{name} must have {n} entries (one per image); got {len(seq)}")
    if captions is not None and len(captions) != n:
        raise ValueError(f"captions must have {n} entries; got {len(captions)}")

    rows = []
    for i in range(n):
        left = images[i].copy()
        if captions is not None and captions[i]:
            _put_caption(left, str(captions[i]))
        heat = colorize_scoremap(scoremaps[i])  # (H, W, 3)
        if heat.shape[:2] != (height, width):
            raise ValueError(
                f"scoremaps[{i}] shape {heat.shape[:2]} must match the image size {(height, width)}"
            )
        overlay = draw_boxes(
            overlay_heatmap(images[i], scoremaps[i], alpha), gt_boxes_list[i], pred_boxes[i]
        )
        rows.append(np.concatenate([left, heat, overlay], axis=1))  # (H, 3W, 3)
    return np.concatenate(rows, axis=0)  # (N*H, 3W, 3)


def save_png(path, image_rgb) -> Path:
    """Write an RGB image as PNG (converted to BGR for cv2), atomically, creating folders.

    Args:
        path: destination file path (str or Path).
        image_rgb: (H, W, 3) uint8 RGB, or (H, W) uint8 grayscale.

    Returns:
        The path written, as a Path.
    """
    path = Path(path)
    image = np.asarray(image_rgb)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(
            f"image_rgb must be uint8 (H, W, 3) or (H, W); got {image.dtype} {image.shape}"
        )
    if image.ndim == 3:
        image = cv2.cvtColor(_check_image(image, "image_rgb"), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"cv2.imencode could not encode {path}")
    write_atomic(str(path), encoded.tobytes(), mode="wb")  # a kill leaves the old file or this
    return path
