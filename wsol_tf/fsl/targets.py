"""The FSL head's target: the share of each feature-map cell that GT boxes cover.

A box covers the input pixels x0..x1, y0..y1 inclusive (the evaluator's IoU convention,
`wsol_tf.evaluation.boxes`); the image's boxes are united pixel by pixel, and cell (i, j)
of an (h, w) map over an (H, W) input spans rows [i H / h, (i + 1) H / h) and columns
[j W / w, (j + 1) W / w) (fractional edges share a pixel between two cells by area), so the
target is the covered fraction of its area: 1 inside the boxes, 0 outside, in between on
their edges. numpy only.
"""

from __future__ import annotations

import numpy as np


def _cell_weights(size, cells):
    """(cells, size): the share of cell i's extent that pixel p covers (each row sums to 1)."""
    edges = np.arange(cells + 1, dtype=np.float64) * size / cells
    pixels = np.arange(size, dtype=np.float64)
    low = np.maximum(edges[:-1, None], pixels[None, :])
    high = np.minimum(edges[1:, None], pixels[None, :] + 1.0)
    return np.clip(high - low, 0.0, None) * (cells / size)


def box_coverage(boxes, image_hw, map_hw) -> np.ndarray:
    """(h, w) float32 in [0, 1]: the share of each map cell inside the union of `boxes`.

    Args:
        boxes: (m, 4) boxes (x0, y0, x1, y1) in input pixels, inclusive; m may be 0.
        image_hw: (H, W) of the input.
        map_hw: (h, w) of the map.
    """
    height, width = (int(s) for s in image_hw)
    map_h, map_w = (int(s) for s in map_hw)
    covered = np.zeros((height, width), np.float64)
    for x0, y0, x1, y1 in np.asarray(boxes, dtype=np.int64).reshape(-1, 4):
        x0, y0 = max(int(x0), 0), max(int(y0), 0)
        x1, y1 = min(int(x1), width - 1), min(int(y1), height - 1)
        if x1 >= x0 and y1 >= y0:
            covered[y0 : y1 + 1, x0 : x1 + 1] = 1.0
    target = _cell_weights(height, map_h) @ covered @ _cell_weights(width, map_w).T
    return np.clip(target, 0.0, 1.0).astype(np.float32)


def flip_boxes(boxes, width) -> np.ndarray:
    """Boxes of the horizontally flipped input (inclusive pixels: x -> W - 1 - x)."""
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    return np.stack([width - 1 - boxes[:, 2], boxes[:, 1], width - 1 - boxes[:, 0],
                     boxes[:, 3]], axis=1)  # fmt: skip
