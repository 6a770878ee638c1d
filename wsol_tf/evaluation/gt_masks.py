"""GT masks for PxAP in network-input pixels: mask files (OpenImages) and tfds segmentations.

Output convention (``wsol_tf.evaluation.pxap``): (h, w) uint8, 1 = object, 0 = background,
255 = ignore.

Geometry: a mask goes through the evaluation pipeline's geometry (resize to ``resize_size``,
centre crop ``image_size``; a plain resize when the two are equal), with nearest-neighbour
resizing by ``cv2.resize(..., interpolation=cv2.INTER_NEAREST)`` as wsolevaluation's
``load_mask_image``. With ``resize_size == image_size`` this is exactly wsolevaluation's
mask (which resizes every mask straight to the map size). The mask's own resolution is used,
so a mask stored at another size than its image still lands on the same frame.

Binarization:

* OpenImages (wsolevaluation's ``get_mask``): each instance mask is read as grey, resized,
  and a pixel is object where its raw grey value > 0.5 (no division by 255: any non-zero
  value is object); instances are OR-ed. The image's ignore mask (same rule) minus the
  object pixels is "ignore": those pixels count in neither precision nor recall.
* tfds ``caltech_birds2011``: CUB's segmentation PNGs hold soft grey values 0..255 (the
  annotators' agreement); object where value / 255 > 0.5 (majority), nothing ignored.
* tfds ``oxford_iiit_pet`` trimap: 1 = pet (object), 2 = background, 3 = outline (ignore).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from wsol_tf.evaluation.pxap import FOREGROUND, IGNORE


def read_gray(path: str) -> np.ndarray:
    """(H, W) float32 grey values of an image file (cv2.IMREAD_GRAYSCALE, as the reference).

    The pixels are those stored in the file, EXIF orientation ignored: the images themselves
    are decoded by TensorFlow, which ignores it, so a mask that OpenCV turned upright (its
    default for a JPEG with an orientation tag) would lie rotated over its image.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"GT mask file {path} does not exist")
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ValueError(f"GT mask file {path} could not be decoded as an image")
    return image.astype(np.float32)


def to_input_frame(mask, image_size, resize_size=None) -> np.ndarray:
    """A (H, W) mask -> (h, w) in network-input pixels: nearest resize, then centre crop.

    Args:
        mask: (H, W) or (H, W, 1) array (any dtype cv2 resizes: uint8, float32).
        image_size: (h, w) network input.
        resize_size: (h, w) before the centre crop; None or image_size: plain resize.

    Returns:
        (h, w) array of the input dtype.
    """
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2 or 0 in mask.shape:
        raise ValueError(f"a GT mask must be (H, W) and non-empty; got shape {mask.shape}")
    image_h, image_w = (int(s) for s in image_size)
    resize_h, resize_w = (int(s) for s in (resize_size or image_size))
    if resize_h < image_h or resize_w < image_w:
        raise ValueError(f"resize_size={resize_size} must be at least image_size={image_size}")
    # cv2 takes (width, height).
    resized = cv2.resize(mask, (resize_w, resize_h), interpolation=cv2.INTER_NEAREST)
    top, left = (resize_h - image_h) // 2, (resize_w - image_w) // 2  # as center_crop_offset
    return resized[top : top + image_h, left : left + image_w]


def combine(foreground, ignore=None) -> np.ndarray:
    """Boolean object and ignore regions -> uint8 mask; ignore never covers an object pixel."""
    out = foreground.astype(np.uint8) * FOREGROUND
    if ignore is not None:
        out[np.logical_and(ignore, ~foreground)] = IGNORE
    return out


def openimages_mask(mask_paths, ignore_paths, image_size, resize_size=None) -> np.ndarray:
    """wsolevaluation's OpenImages GT mask of one image, in network-input pixels.

    Args:
        mask_paths: the image's instance mask files (at least one).
        ignore_paths: its ignore-region files (wsolevaluation has at most one; several are
            OR-ed; empty: nothing ignored).
        image_size, resize_size: the evaluation geometry (see ``to_input_frame``).

    Returns:
        (h, w) uint8 mask: 1 object, 0 background, 255 ignore.
    """
    if not mask_paths:
        raise ValueError("openimages_mask needs at least one instance mask file")
    foreground = np.zeros(tuple(int(s) for s in image_size), dtype=bool)
    for path in mask_paths:
        foreground |= to_input_frame(read_gray(path), image_size, resize_size) > 0.5
    ignore = None
    for path in ignore_paths or ():
        region = to_input_frame(read_gray(path), image_size, resize_size) > 0.5
        ignore = region if ignore is None else ignore | region
    return combine(foreground, ignore)


def cub_segmentation_mask(segmentation, image_size, resize_size=None) -> np.ndarray:
    """tfds caltech_birds2011 ``segmentation_mask`` (H, W[, 1]) uint8 -> input-pixel mask."""
    grey = to_input_frame(np.asarray(segmentation, dtype=np.uint8), image_size, resize_size)
    return combine(grey.astype(np.float32) / 255.0 > 0.5)


def pet_trimap_mask(trimap, image_size, resize_size=None) -> np.ndarray:
    """tfds oxford_iiit_pet trimap (1 pet, 2 background, 3 outline) -> input-pixel mask."""
    trimap = to_input_frame(np.asarray(trimap, dtype=np.uint8), image_size, resize_size)
    return combine(trimap == 1, trimap == 3)
