"""Which of the boxed validation images train the FSL head and which choose its settings.

Per class, the images with at least one GT box are sorted by image id and alternate: the
1st, 3rd, 5th, ... train the head, the 2nd, 4th, ... choose the trial and the CAM threshold
(a class with an odd count gives the head one more). With CUB's 10 validation images per
class that is 5 + 5 per class (25 classes: 125 train the head, 125 choose). Deterministic:
no seed, nothing but the ids and labels. TensorFlow-free.
"""

from __future__ import annotations

import numpy as np

RULE = (
    "per class, boxed images sorted by image id: 1st, 3rd, ... train the head; 2nd, 4th, ... choose"
)


def _id_key(image_id):
    """Sort key of an image id: numbers numerically, anything else as text (after numbers)."""
    if isinstance(image_id, int | np.integer):
        return (0, int(image_id), "")
    return (1, 0, str(image_id))


def split_per_class(labels, image_ids, num_boxes=None):
    """(head rows, selection rows): sorted int64 row indices, disjoint, per class alternating.

    Args:
        labels: (N,) class of each row.
        image_ids: N image ids (ints or strings), the order within a class.
        num_boxes: optional (N,) GT box counts; rows with none take no part.

    Returns:
        Two sorted int64 arrays of rows.
    """
    labels = np.asarray(labels)
    if len(image_ids) != len(labels):
        raise ValueError(f"{len(image_ids)} image ids for {len(labels)} labels")
    usable = np.ones(len(labels), bool) if num_boxes is None else np.asarray(num_boxes) >= 1
    head, select = [], []
    for label in np.unique(labels[usable]):
        rows = [int(r) for r in np.flatnonzero(usable & (labels == label))]
        rows.sort(key=lambda r: (_id_key(image_ids[r]), r))
        head.extend(rows[0::2])
        select.extend(rows[1::2])
    return np.array(sorted(head), np.int64), np.array(sorted(select), np.int64)


def describe(labels, head_rows, select_rows):
    """The split as metrics.json states it."""
    labels = np.asarray(labels)
    classes = np.unique(labels[np.concatenate([head_rows, select_rows])]) if len(labels) else []
    return {
        "rule": RULE,
        "split": "val",
        "num_classes": int(len(classes)),
        "num_head_images": int(len(head_rows)),
        "num_selection_images": int(len(select_rows)),
        "selection_classes": int(len(np.unique(labels[select_rows]))),
    }
