"""In-memory index of a dataset split: image paths, labels and boxes, one row per image."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Records:
    """One split of a localization dataset, before any image is read.

    Attributes:
        image_paths: absolute path of each image, length N.
        labels: (N,) int32 class indices in [0, num_classes).
        boxes: (N, M, 4) float32 ground-truth boxes `x0, y0, x1, y1` in
            original-image pixels, padded with zeros past `num_boxes`.
        num_boxes: (N,) int32 number of valid boxes per image (0 when unknown).
        image_ids: dataset-specific id of each image (CUB: its number in
            images.txt), length N.
        class_names: name of each class index, length num_classes.
        source: where the split was read from, for messages (and, unless
            `data_dir` is set, the folder that saved score maps are named under).
        image_sizes: optional (N, 2) int32 `width, height` of each original
            image as the annotation states it (None when unknown; 0, 0 for one image):
            the pixels its boxes are given in, even when the file has another size
            (an image resized after it was annotated), as for wsolevaluation.
        mask_paths: optional per-image lists of mask files (OpenImages PxAP).
        ignore_paths: optional per-image lists of ignore-region masks.
        data_dir: optional dataset folder whose `images/` (or itself) the images'
            wsolevaluation ids (score map names) are relative to, where `source` is no
            such folder (CUB's held-out "val": "<data_dir> (val: N/class)").
    """

    image_paths: list
    labels: np.ndarray
    boxes: np.ndarray
    num_boxes: np.ndarray
    image_ids: list
    class_names: list
    source: str = ""
    image_sizes: np.ndarray | None = None
    mask_paths: list | None = None
    ignore_paths: list | None = None
    data_dir: str | None = None

    def __post_init__(self):
        n = len(self.image_paths)
        if not (
            len(self.labels) == len(self.boxes) == len(self.num_boxes) == len(self.image_ids) == n
        ):
            raise ValueError(f"Records from {self.source!r}: inconsistent lengths.")
        for name in ("image_sizes", "mask_paths", "ignore_paths"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"Records from {self.source!r}: {name} must have length {n}.")
        if self.boxes.ndim != 3 or self.boxes.shape[-1] != 4:
            raise ValueError(f"Records from {self.source!r}: boxes must be (N, M, 4).")

    def __len__(self):
        return len(self.image_paths)

    def subset(self, rows, source=None):
        """The Records of the given rows (in that order), e.g. a held-out split."""
        rows = np.asarray(rows, np.int64)

        def pick(values):
            return None if values is None else [values[r] for r in rows]

        return dataclasses.replace(
            self,
            image_paths=pick(self.image_paths),
            labels=self.labels[rows],
            boxes=self.boxes[rows],
            num_boxes=self.num_boxes[rows],
            image_ids=pick(self.image_ids),
            source=self.source if source is None else source,
            image_sizes=None if self.image_sizes is None else self.image_sizes[rows],
            mask_paths=pick(self.mask_paths),
            ignore_paths=pick(self.ignore_paths),
        )

    def describe(self, row):
        """How log lines name image `row`: its id and file."""
        return f"id {self.image_ids[row]} ({self.image_paths[row]})"

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def max_boxes(self):
        return self.boxes.shape[1]


def pad_boxes(box_lists):
    """Pads per-image box lists into (N, M, 4) float32 plus (N,) counts, M >= 1."""
    max_boxes = max([1] + [len(b) for b in box_lists])
    boxes = np.zeros((len(box_lists), max_boxes, 4), np.float32)
    counts = np.zeros((len(box_lists),), np.int32)
    for i, image_boxes in enumerate(box_lists):
        if len(image_boxes):
            boxes[i, : len(image_boxes)] = np.asarray(image_boxes, np.float32).reshape(-1, 4)
        counts[i] = len(image_boxes)
    return boxes, counts
