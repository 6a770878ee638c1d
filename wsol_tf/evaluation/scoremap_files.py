"""Score maps on disk: one ``.npy`` per image, keyed by image id (wsolevaluation's layout).

wsolevaluation's ``inference.py`` saves each normalised score map as
``os.path.join(scoremap_root, image_id + ".npy")`` where the image id is the image's path
relative to the dataset's image folder, e.g. ``001.Black_footed_Albatross/Black_Footed_
Albatross_0046_18.jpg`` (CUB) or ``val/ILSVRC2012_val_00000347.JPEG`` (ImageNet); its
evaluator reads them back the same way. We read and write exactly that layout, so maps from
any method can be scored here and ours can be scored there.

A map covers the network input. wsolevaluation resizes every image to the map's size with no
crop; a pipeline that resizes then centre-crops is described by an optional
``scoremaps.json`` beside the maps (``image_size`` and ``resize_size``) so the GT boxes can be
mapped the same way when the maps are read back.
"""

from __future__ import annotations

import io
import json
import os

import numpy as np

from wsol_tf.array_files import ArrayFileError, read_npy
from wsol_tf.files import write_atomic, write_json

GEOMETRY_FILE = "scoremaps.json"


def image_id_of(image_path: str, data_dir: str) -> str:
    """wsolevaluation's image id: the path relative to ``data_dir/images`` (CUB layout), or
    to ``data_dir`` for images outside such a folder; always with ``/`` separators."""
    image_path = os.path.abspath(image_path)
    data_dir = os.path.abspath(data_dir)
    images_dir = os.path.join(data_dir, "images")
    base = images_dir if image_path.startswith(images_dir + os.sep) else data_dir
    relative = os.path.relpath(image_path, base)
    if relative.startswith(".."):
        raise ValueError(f"image {image_path} is not inside the dataset folder {data_dir}")
    return relative.replace(os.sep, "/")


def scoremap_file(root: str, image_id: str) -> str:
    """``root/<image_id>.npy``, refusing ids that would leave ``root``."""
    if os.path.isabs(image_id) or ".." in image_id.split("/"):
        raise ValueError(f"image id {image_id!r} must be a relative path without '..'")
    return os.path.join(root, *image_id.split("/")) + ".npy"


def check_scoremap(scoremap, where: str, shape=None) -> np.ndarray:
    """Refuse anything that is not a finite, non-empty (H, W) float map in [0, 1]; name
    ``where``.

    Args:
        scoremap: the array to check.
        where: file or image named in the error.
        shape: expected (H, W), or None.

    Returns:
        The map as float64 (H, W).
    """
    scoremap = np.asarray(scoremap)
    if scoremap.ndim != 2:
        raise ValueError(f"{where}: score map must be 2D (H, W); got shape {scoremap.shape}")
    if scoremap.size == 0:
        # An empty map has no pixel to cut a box from; unchecked, it fails later in the box
        # rescaling with a message that names no file.
        raise ValueError(f"{where}: score map is empty; got shape {scoremap.shape}")
    if shape is not None and scoremap.shape != tuple(shape):
        raise ValueError(f"{where}: score map shape {scoremap.shape}, expected {tuple(shape)}")
    if not np.issubdtype(scoremap.dtype, np.floating):
        raise ValueError(f"{where}: score map must be float; got dtype {scoremap.dtype}")
    if not np.isfinite(scoremap).all():
        raise ValueError(f"{where}: score map contains NaN or Inf")
    if scoremap.size and (scoremap.min() < 0 or scoremap.max() > 1):
        raise ValueError(
            f"{where}: score map must lie in [0, 1]; got min {scoremap.min()}, max {scoremap.max()}"
        )
    return scoremap.astype(np.float64)


def save_scoremap(root: str, image_id: str, scoremap) -> str:
    """Write one map (float64, as wsolevaluation writes and reads them); return the path."""
    path = scoremap_file(root, image_id)
    scoremap = check_scoremap(scoremap, f"score map for {image_id}")
    buffer = io.BytesIO()
    np.save(buffer, scoremap)
    write_atomic(path, buffer.getvalue(), mode="wb")  # never half a map
    return path


def load_scoremap(root: str, image_id: str, shape=None) -> np.ndarray:
    """Read and validate one map; errors name the file.

    Args:
        root: the score map folder.
        image_id: wsolevaluation-style id.
        shape: expected (H, W), or None.

    Returns:
        (H, W) float64 map in [0, 1].
    """
    path = scoremap_file(root, image_id)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no score map for image {image_id}: {path} does not exist")
    try:
        # Never unpickled, and no larger than the file: anyone's maps may be scored.
        scoremap = read_npy(path)
    except ArrayFileError:
        raise  # empty, truncated, pickled, objects: named already
    except Exception as error:  # noqa: BLE001 - unreadable, a folder: one message
        reason = str(error) or type(error).__name__
        raise ValueError(f"{path}: not a readable .npy array ({reason})") from None
    return check_scoremap(scoremap, path, shape)


def write_geometry(root: str, image_size, resize_size) -> str:
    """Record the input geometry of the maps in ``root/scoremaps.json``."""
    geometry = {
        "image_size": [int(s) for s in image_size],
        "resize_size": None if resize_size is None else [int(s) for s in resize_size],
    }
    return write_json(os.path.join(root, GEOMETRY_FILE), geometry)


def read_geometry(root: str):
    """(image_size, resize_size) from ``root/scoremaps.json``, or None when there is none."""
    path = os.path.join(root, GEOMETRY_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
        image_size = tuple(int(s) for s in data["image_size"])
        resize = data.get("resize_size")
        resize_size = None if resize is None else tuple(int(s) for s in resize)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{path}: malformed geometry ({error!r})") from None
    return image_size, resize_size
