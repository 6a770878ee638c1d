"""A folder of the user's own images, one subfolder per class, for training without boxes.

    <data_dir>/<class_name>/*.jpg|jpeg|png|bmp|gif|webp   (any case: .JPG, .WebP)
    or, with splits:  <data_dir>/<split>/<class_name>/*.jpg ...

Class index = position of the class folder name in sorted order. No boxes
(num_boxes 0): such a split trains a classifier but cannot be evaluated for
localization.
"""

import os

import numpy as np

from wsol_tf.data.dataset import DATASETS, Dataset
from wsol_tf.data.records import Records, pad_boxes

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")  # lower case
# Image formats the decoder cannot read: listed all the same, so such a file is skipped,
# counted and named (unreadable_files.json) instead of silently left out of a folder.
UNDECODABLE_EXTENSIONS = (".tif", ".tiff", ".heic", ".heif", ".avif", ".jp2", ".jxl")


def is_image_file(path):
    """Whether a folder reader lists `path` (the training folder and `localize`: one rule).

    An image name (IMAGE_EXTENSIONS or UNDECODABLE_EXTENSIONS, any case: the decoder skips and
    counts the latter) that is a regular file, or a symbolic link that
    leads nowhere (its target gone, or a loop of links): such a link is listed, so the decoder
    skips, counts and names it (unreadable_files.json) instead of it vanishing unseen.
    Folders are not images, nor are special files (reading a FIFO blocks forever).
    `os.path.isfile` answers False for a loop of links, where `DirEntry.is_file` raises.
    """
    if os.path.splitext(path)[1].lower() not in IMAGE_EXTENSIONS + UNDECODABLE_EXTENSIONS:
        return False
    return os.path.isfile(path) or (os.path.islink(path) and not os.path.exists(path))


def load_folder(data_dir, split="train"):
    """Records of `<data_dir>/<split>/` if it exists, else (split "train" only) of `<data_dir>/`.

    Raises:
        FileNotFoundError when the folder or its class folders are missing or empty.
    """
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
    if not os.path.isdir(data_dir):
        what = "is a file, not a folder" if os.path.exists(data_dir) else "does not exist"
        raise FileNotFoundError(f"Image folder {data_dir} {what}.")
    folder = os.path.join(data_dir, split)
    if not os.path.isdir(folder):
        if split != "train":
            raise FileNotFoundError(f"Image folder {data_dir}: no {split}/ subfolder.")
        folder = data_dir
    # os.path.isdir, not DirEntry.is_dir: a loop of links beside the class folders is no class
    # (is_dir raises on it).
    classes = sorted(
        e.name for e in os.scandir(folder) if e.name[0] != "." and os.path.isdir(e.path)
    )
    if not classes:
        raise FileNotFoundError(f"{folder}: expected one subfolder of images per class.")
    paths, labels = [], []
    for k, name in enumerate(classes):
        files = sorted(
            e.path for e in os.scandir(os.path.join(folder, name)) if is_image_file(e.path)
        )
        if not files:
            raise FileNotFoundError(f"{os.path.join(folder, name)}: class folder has no images.")
        paths += files
        labels += [k] * len(files)
    boxes, num_boxes = pad_boxes([[] for _ in paths])
    return Records(
        image_paths=paths,
        labels=np.array(labels, np.int32),
        boxes=boxes,
        num_boxes=num_boxes,
        image_ids=[os.path.relpath(p, folder) for p in paths],
        class_names=classes,
        source=folder,
    )


DATASETS.add(
    "folder",
    Dataset(
        load=load_folder,
        needs_data_dir=True,
        default_splits=("train",),
    ),
)
