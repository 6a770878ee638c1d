"""A folder of the user's own images, one subfolder per class, for training without boxes.

    <data_dir>/<class_name>/*.jpg|jpeg|png|bmp|gif|webp   (any case: .JPG, .WebP)
    or, with splits:  <data_dir>/<split>/<class_name>/*.jpg ...

Class index = position of the class folder name in sorted order. No boxes
(num_boxes 0): such a split trains a classifier but cannot be evaluated for
localization.
"""

import os

import numpy as np

from wsol_tf.data.records import Records, pad_boxes

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")  # lower case


def _is_image_entry(entry):
    """A file, or a broken symbolic link: an image name whose target is gone is listed, so
    the decoder skips, counts and names it (unreadable_files.json) as `localize` does for the
    same folder, instead of it vanishing from the split unseen. Folders are not images."""
    return entry.is_file() or (entry.is_symlink() and not os.path.exists(entry.path))


def load_folder(data_dir, split="train"):
    """Records of `<data_dir>/<split>/` if it exists, else (split "train" only) of `<data_dir>/`.

    Raises:
        FileNotFoundError when the folder or its class folders are missing or empty.
    """
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"Image folder {data_dir} does not exist.")
    folder = os.path.join(data_dir, split)
    if not os.path.isdir(folder):
        if split != "train":
            raise FileNotFoundError(f"Image folder {data_dir}: no {split}/ subfolder.")
        folder = data_dir
    classes = sorted(e.name for e in os.scandir(folder) if e.is_dir() and e.name[0] != ".")
    if not classes:
        raise FileNotFoundError(f"{folder}: expected one subfolder of images per class.")
    paths, labels = [], []
    for k, name in enumerate(classes):
        files = sorted(
            e.path
            for e in os.scandir(os.path.join(folder, name))
            if _is_image_entry(e) and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
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
