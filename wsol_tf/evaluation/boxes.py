"""Boxes from score maps, IoU, and box utilities (numpy/cv2).

Box convention everywhere: ``(x0, y0, x1, y1)`` in network-input pixels, arrays shaped
(..., 4). IoU uses the +1 pixel convention of both reference implementations, i.e. a box covers
the pixels x0..x1 and y0..y1 inclusive: area = (x1 - x0 + 1) * (y1 - y0 + 1).

``boxes_from_scoremap`` reproduces clovaai/wsolevaluation's ``compute_bboxes_from_scoremaps``
bit for bit. Note one consequence of that convention: the box of a blob covering columns
a..b is ``x0 = a, x1 = b + 1`` (cv2.boundingRect's x + w, one past the last pixel), clipped to
W - 1; likewise for rows. We keep it because reported numbers depend on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# cv2 3.x returns (image, contours, hierarchy); 4.x and later return (contours, hierarchy).
_CONTOUR_INDEX = 1 if cv2.__version__.split(".")[0] == "3" else 0


def _check_scoremap(scoremap) -> np.ndarray:
    """Return the score map as float64 (H, W), refusing anything wsolevaluation refuses."""
    scoremap = np.asarray(scoremap)
    if scoremap.ndim != 2:
        raise ValueError(f"scoremap must be a 2D (H, W) array; got shape {scoremap.shape}")
    if not np.issubdtype(scoremap.dtype, np.floating):
        raise ValueError(f"scoremap must be a float array; got dtype {scoremap.dtype}")
    scoremap = scoremap.astype(np.float64)
    if not np.isfinite(scoremap).all():
        raise ValueError("scoremap must not contain NaN or Inf")
    if scoremap.size and (scoremap.min() < 0 or scoremap.max() > 1):
        raise ValueError(
            f"scoremap must lie in [0, 1] (normalise it first); got min={scoremap.min()}, "
            f"max={scoremap.max()}"
        )
    return scoremap


def scoremap_to_uint8(scoremap) -> np.ndarray:
    """``uint8(map * 255)`` of a validated float64 map, as wsolevaluation builds its image.

    Args:
        scoremap: (H, W) float map in [0, 1].

    Returns:
        (H, W) uint8 image.
    """
    return (_check_scoremap(scoremap) * 255).astype(np.uint8)


def threshold_levels(thresholds, max_value: int) -> np.ndarray:
    """Integer cut ``int(tau * max_value)`` of each CAM threshold (wsolevaluation's rule).

    The binary image at tau only depends on this integer, and ``max_value`` is the uint8
    image's maximum, so a whole threshold list maps onto at most 256 distinct levels.

    Args:
        thresholds: (T,) CAM thresholds in [0, 1].
        max_value: maximum of the uint8 score image (0..255).

    Returns:
        (T,) int64 levels; a pixel is foreground at tau iff ``pixel > level``.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)  # (T,)
    # float64 product then truncation toward zero: int() of the same product for tau >= 0.
    return (thresholds * float(max_value)).astype(np.int64)


def _contour_boxes(contours, height: int, width: int) -> tuple[np.ndarray, int]:
    """(boxes (n, 4) int64, index of the first largest contour by ``cv2.contourArea``)."""
    if len(contours) == 0:
        return np.zeros((1, 4), dtype=np.int64), 0
    largest = 0
    if len(contours) > 1:
        areas = [cv2.contourArea(c) for c in contours]
        largest = areas.index(max(areas))  # first maximum, like max(contours, key=contourArea)
    boxes = []
    for contour in contours:  # plain Python: a level has a handful of contours
        x, y, w, h = cv2.boundingRect(contour)
        boxes.append((x, y, min(x + w, width - 1), min(y + h, height - 1)))
    return np.array(boxes, dtype=np.int64), largest


def contour_boxes_at_level(image, level: int) -> tuple[np.ndarray, int]:
    """All contour boxes of ``image > level`` and the index of the largest contour.

    Args:
        image: (H, W) uint8 score image.
        level: integer cut; foreground is ``pixel > level`` (cv2.THRESH_BINARY).

    Returns:
        boxes (n, 4) int64, one per contour of ``findContours(RETR_TREE,
        CHAIN_APPROX_SIMPLE)`` in cv2's order, and the index of the first contour of largest
        ``cv2.contourArea`` (what ``max(contours, key=cv2.contourArea)`` picks). No contour:
        ``[[0, 0, 0, 0]]`` and index 0.
    """
    height, width = image.shape
    _, binary = cv2.threshold(image, int(level), 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[_CONTOUR_INDEX]
    return _contour_boxes(contours, height, width)


def _first_last(above):
    """First and last True index along axis 1 of a (L, n) bool array (rows with a True)."""
    first = np.argmax(above, axis=1)
    last = above.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1)
    return first, last


def boxes_by_level(image, levels) -> dict[int, tuple[np.ndarray, int]]:
    """``contour_boxes_at_level`` once per distinct binary image (the fast exact scan).

    Three savings, none of which changes a box or the largest-contour choice:

    * levels at or above the image's maximum leave no foreground pixel: the no-contour
      answer, without calling cv2;
    * the foreground sets ``image > level`` are nested, so two levels with the same number
      of foreground pixels have the same binary image (no pixel value lies between them) and
      share one contour pass;
    * cv2 only sees the bounding rectangle of the foreground (from the per-row and
      per-column maxima), with ``offset`` putting the points back in image coordinates.
      ``cv2.findContours`` pads its input with a zero border and scans it in raster order,
      so the crop gives the same contours in the same order (tests/test_boxes.py checks
      this against the full-image pass).

    Args:
        image: (H, W) uint8 score image.
        levels: iterable of integer cuts (duplicates allowed).

    Returns:
        {level: (boxes (n, 4) int64, largest index)} for each distinct level.
    """
    image = np.ascontiguousarray(image)
    height, width = image.shape
    unique = np.unique(np.asarray(levels, dtype=np.int64))  # (L,)
    max_value = int(image.max()) if image.size else 0
    out = {}
    empty = (np.zeros((1, 4), dtype=np.int64), 0)
    live = unique[(unique < max_value) & (unique >= 0)]  # levels with some foreground
    for level in unique[(unique >= max_value) | (unique < 0)]:
        if level >= max_value:
            out[int(level)] = empty
        else:  # a negative cut: every pixel is foreground (cv2 clips the same way)
            out[int(level)] = contour_boxes_at_level(image, int(level))
    if len(live) == 0:
        return out
    histogram = np.bincount(image.ravel(), minlength=256)  # (256,)
    above = image.size - np.cumsum(histogram)  # (256,) pixels > level
    row_max, col_max = image.max(axis=1), image.max(axis=0)  # (H,), (W,)
    y0, y1 = _first_last(row_max[None, :] > live[:, None])  # (L,) each
    x0, x1 = _first_last(col_max[None, :] > live[:, None])
    previous_count, previous = -1, None
    for i, level in enumerate(live.tolist()):
        count = int(above[level])
        if count != previous_count:
            crop = image[y0[i] : y1[i] + 1, x0[i] : x1[i] + 1]
            _, binary = cv2.threshold(crop, level, 255, cv2.THRESH_BINARY)
            contours = cv2.findContours(
                binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE, offset=(int(x0[i]), int(y0[i]))
            )[_CONTOUR_INDEX]
            previous, previous_count = _contour_boxes(contours, height, width), count
        out[level] = previous
    return out


def boxes_from_scoremap(scoremap, thresholds, multi_contour: bool = False) -> list[np.ndarray]:
    """Estimate boxes from a normalised score map at several CAM thresholds.

    Exactly wsolevaluation's rule: the map is turned into ``uint8(map * 255)``; at threshold
    tau the foreground is ``pixel > int(tau * max(uint8 map))`` (strict, cv2.THRESH_BINARY);
    contours come from ``cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)``; each contour's
    ``cv2.boundingRect`` (x, y, w, h) gives ``(x, y, min(x + w, W - 1), min(y + h, H - 1))``.

    Contours are found once per distinct integer level rather than once per threshold (see
    ``boxes_by_level``); ``boxes_from_scoremap_loop`` is the plain per-threshold loop that
    gives identical output.

    Args:
        scoremap: (H, W) float map in [0, 1]; cast to float64 first.
        thresholds: (T,) CAM thresholds tau (fractions of the map's maximum).
        multi_contour: False keeps only the largest contour by ``cv2.contourArea`` (one box
            per threshold); True keeps one box per contour (wsolevaluation's
            ``multi_contour_eval``, used by MaxBoxAccV2).

    Returns:
        List of length T; entry i is an (n_i, 4) int64 array of boxes at ``thresholds[i]``.
        When nothing survives the threshold the entry is ``[[0, 0, 0, 0]]`` (n_i = 1).
    """
    image = scoremap_to_uint8(scoremap)  # (H, W) uint8
    levels = threshold_levels(thresholds, int(image.max()) if image.size else 0)  # (T,)
    by_level = boxes_by_level(image, levels)
    results = []
    for level in levels:
        boxes, largest = by_level[int(level)]
        results.append(boxes.copy() if multi_contour else boxes[largest : largest + 1].copy())
    return results


def boxes_from_scoremap_loop(scoremap, thresholds, multi_contour: bool = False) -> list[np.ndarray]:
    """Reference for ``boxes_from_scoremap``: one threshold + contour pass per threshold.

    This is the straightforward loop wsolevaluation runs; kept to test and benchmark the
    grouped scan against. Same arguments and return value as ``boxes_from_scoremap``.
    """
    scoremap = _check_scoremap(scoremap)  # (H, W) float64
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)  # (T,)
    height, width = scoremap.shape
    image = (scoremap * 255).astype(np.uint8)  # (H, W) uint8
    max_value = int(image.max()) if image.size else 0
    results = []
    for tau in thresholds:
        _, binary = cv2.threshold(image, int(float(tau) * max_value), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[_CONTOUR_INDEX]
        if len(contours) == 0:
            results.append(np.zeros((1, 4), dtype=np.int64))
            continue
        if not multi_contour:
            contours = [max(contours, key=cv2.contourArea)]
        boxes = np.empty((len(contours), 4), dtype=np.int64)  # (n_i, 4)
        for j, contour in enumerate(contours):
            x, y, w, h = cv2.boundingRect(contour)
            boxes[j] = (x, y, min(x + w, width - 1), min(y + h, height - 1))
        results.append(boxes)
    return results


def box_from_scoremap(scoremap, threshold: float) -> np.ndarray:
    """One box (largest contour) at one CAM threshold.

    Args:
        scoremap: (H, W) float map in [0, 1].
        threshold: CAM threshold tau.

    Returns:
        (4,) int64 box ``(x0, y0, x1, y1)``; ``(0, 0, 0, 0)`` when nothing is above threshold.
    """
    return boxes_from_scoremap(scoremap, [threshold], multi_contour=False)[0][0]


def iou(boxes_a, boxes_b) -> np.ndarray:
    """Pairwise IoU with the +1 pixel convention.

    Args:
        boxes_a: (N, 4) or (4,) boxes (x0, y0, x1, y1), int or float.
        boxes_b: (M, 4) or (4,) boxes.

    Returns:
        (N, M) float64 IoU matrix (a (4,) input counts as N or M = 1). Disjoint boxes give 0;
        a non-positive union (only possible for invalid boxes) gives 0, as in wsolevaluation.
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)[:, None, :]  # (N, 1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)[None, :, :]  # (1, M, 4)
    inter_w = np.maximum(
        0.0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1
    )
    inter_h = np.maximum(
        0.0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1
    )
    intersection = inter_w * inter_h  # (N, M)
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)  # (N, 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)  # (1, M)
    union = area_a + area_b - intersection  # (N, M)
    degenerate = union <= 0
    return np.where(degenerate, 0.0, intersection / np.where(degenerate, 1.0, union))


def rescale_boxes(boxes, from_hw: Sequence[int], to_hw: Sequence[int], truncate: bool = False):
    """Rescale boxes when their image is resized from ``from_hw`` to ``to_hw``.

    x coordinates scale by ``to_w / from_w`` and y by ``to_h / from_h``.

    Args:
        boxes: (..., 4) boxes (x0, y0, x1, y1) in the ``from_hw`` image.
        from_hw: (H, W) of the image the boxes are given in.
        to_hw: (H, W) of the resized image.
        truncate: if True, truncate to int64 with ``int()`` semantics, as wsolevaluation's
            ``resize_bbox`` does for GT boxes (toward zero). Default False keeps float64.

    Returns:
        (..., 4) float64 boxes, or int64 if ``truncate``.
    """
    from_h, from_w = (float(s) for s in from_hw)
    to_h, to_w = (float(s) for s in to_hw)
    if min(from_h, from_w, to_h, to_w) <= 0:
        raise ValueError(f"sizes must be positive; got from_hw={from_hw}, to_hw={to_hw}")
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.shape[-1:] != (4,):
        raise ValueError(f"boxes must be shaped (..., 4); got {boxes.shape}")
    # x * new_w / w in that order, as wsolevaluation's resize_bbox: x * (new_w / w) can differ
    # in the last bit and flip an int() truncation.
    numerator = np.array([to_w, to_h, to_w, to_h])  # (4,)
    denominator = np.array([from_w, from_h, from_w, from_h])  # (4,)
    out = boxes * numerator / denominator  # (..., 4)
    return np.trunc(out).astype(np.int64) if truncate else out


def gt_boxes_for_input(boxes, original_hw, image_size, resize_size=None) -> np.ndarray:
    """GT boxes from original-image pixels to integer network-input pixels (float64 maths).

    With ``resize_size`` None or equal to ``image_size`` the image is plainly resized and this
    is exactly wsolevaluation's ``resize_bbox`` (``int(x * new_w / w)``, no clipping). With a
    larger ``resize_size`` the evaluation pipeline resizes then centre-crops; the boxes follow
    (scale, shift by the crop offset, clip to the crop) and are then truncated with int().

    Args:
        boxes: (M, 4) boxes (x0, y0, x1, y1) in original pixels.
        original_hw: (H, W) of the original image.
        image_size: (h, w) network input.
        resize_size: (h, w) before the centre crop, or None for a plain resize.

    Returns:
        (M, 4) int64 boxes in input pixels.
    """
    image_h, image_w = (int(s) for s in image_size)
    if resize_size is None or tuple(int(s) for s in resize_size) == (image_h, image_w):
        return rescale_boxes(boxes, original_hw, (image_h, image_w), truncate=True)
    resize_h, resize_w = (int(s) for s in resize_size)
    if resize_h < image_h or resize_w < image_w:
        raise ValueError(f"resize_size={resize_size} must be at least image_size={image_size}")
    scaled = rescale_boxes(boxes, original_hw, (resize_h, resize_w))  # (M, 4) float64
    offset_y, offset_x = (resize_h - image_h) // 2, (resize_w - image_w) // 2
    shifted = scaled - np.array([offset_x, offset_y, offset_x, offset_y], dtype=np.float64)
    upper = np.array([image_w, image_h, image_w, image_h], dtype=np.float64)
    return np.trunc(np.clip(shifted, 0.0, upper)).astype(np.int64)


def validate_boxes(boxes, name: str = "boxes") -> np.ndarray:
    """Check boxes are finite and ordered (x0 <= x1, y0 <= y1).

    Args:
        boxes: (..., 4) boxes (x0, y0, x1, y1).
        name: what to call them in the error message.

    Returns:
        The boxes as a numpy array (unchanged dtype).

    Raises:
        ValueError naming ``name`` and the first offending box.
    """
    arr = np.asarray(boxes)
    if arr.shape[-1:] != (4,):
        raise ValueError(f"{name} must be shaped (..., 4); got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_:
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}")
    flat = arr.reshape(-1, 4).astype(np.float64)  # (n, 4)
    bad = (
        ~np.isfinite(flat).all(axis=1) | (flat[:, 2] < flat[:, 0]) | (flat[:, 3] < flat[:, 1])
    )  # (n,)
    if bad.any():
        index = int(np.argmax(bad))
        position = np.unravel_index(index, arr.shape[:-1]) if arr.ndim > 1 else ()
        raise ValueError(
            f"{name}: invalid box {arr.reshape(-1, 4)[index].tolist()} at index "
            f"{tuple(int(p) for p in position)} (need finite values with x0 <= x1 and y0 <= y1)"
        )
    return arr
