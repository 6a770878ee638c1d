"""What evaluation reads from a split: input images, GT boxes and GT masks in input pixels.

Two kinds of split reach ``evaluate_model``:

* file-backed ``Records`` (cub, imagenet, wsol_metadata, synthetic): images go through
  ``make_dataset`` (eval geometry); GT boxes come from the records and the size they are
  given in: the annotation's stated size where the records have one (``image_sizes``, as
  wsolevaluation), else each file's (``gt_boxes_for_input``); masks from the records'
  OpenImages mask files, when present.
* ``TfdsSource`` (tfds_cub, tfds_pets): images, boxes and masks come from the tfds features
  while reading; the image id of a row is its position in the split's read order.

Both give batches of ``EvalBatch``; rows that have neither a GT box nor a mask are dropped by
the caller and counted as skipped.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from wsol_tf.data import transforms
from wsol_tf.data.annotations import box_problem
from wsol_tf.data.decode import decode_uint8, path_bytes
from wsol_tf.data.pipeline import make_dataset
from wsol_tf.data.sizes import image_size_hw
from wsol_tf.errors import error_text
from wsol_tf.evaluation.boxes import gt_boxes_for_input, validate_boxes
from wsol_tf.evaluation.gt_masks import cub_segmentation_mask, openimages_mask, pet_trimap_mask


@dataclasses.dataclass
class EvalBatch:
    """One batch: rows (B,) of the split, images (B, h, w, 3) float32 in [0, 255], labels (B,),
    gts: B int64 (m_i, 4) GT boxes in input pixels (m_i may be 0), masks: B masks or None."""

    rows: np.ndarray
    images: tf.Tensor
    labels: np.ndarray
    gts: list
    masks: list


class UnreadableImage(ValueError):
    """An image whose size cannot be read: ``path`` and ``reason`` (one line)."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: cannot read the image ({reason})")
        self.path, self.reason = path, reason


def original_size_hw(path):
    """(H, W) of an image file, the size the pipeline's decoder gives: from the header
    (`wsol_tf.data.sizes.image_size_hw`; tests/test_fast_evaluator.py compares it with the
    decoder on the shared images), or by decoding when the header gives none.

    Raises:
        UnreadableImage naming the file when neither its header nor the decoder gives a size
        (an empty, truncated or non-image file), never a bare TensorFlow error.
    """
    size = image_size_hw(path)
    if size is not None:
        return size
    try:
        data = tf.io.read_file(path_bytes(path))
        if data.numpy()[:2] == b"\xff\xd8":
            shape = tf.image.extract_jpeg_shape(data).numpy()
        else:
            shape = tf.shape(decode_uint8(data)).numpy()
    except (tf.errors.OpError, ValueError) as error:
        raise UnreadableImage(path, error_text(error)) from None
    return int(shape[0]), int(shape[1])


class FileEvalSource:
    """Evaluation view of file-backed ``Records``.

    Args:
        records: the split.
        masks_fn: optional ``(records, row, image_size, resize_size) -> mask or None``
            overriding the records' own masks (OpenImages ``mask_paths``).
    """

    def __init__(self, records, masks_fn=None):
        self.records = records
        self.masks_fn = masks_fn
        self.has_masks = masks_fn is not None or records.mask_paths is not None
        self.suspect = {}  # row -> [{image, box, problem, width, height}]: scored, reported

    def suspect_report(self, examples=10):
        """{"count", "examples"} of the GT boxes read so far that are empty or stick out of
        their image (`wsol_tf.data.annotations.box_problem`), or None."""
        found = [entry for row in sorted(self.suspect) for entry in self.suspect[row]]
        return {"count": len(found), "examples": found[:examples]} if found else None

    def __len__(self):
        return len(self.records)

    def candidate_rows(self):
        """Rows worth reading: those with a GT box or a mask (known without reading)."""
        keep = self.records.num_boxes >= 1
        if self.records.mask_paths is not None:
            keep = keep | np.array([len(m) > 0 for m in self.records.mask_paths])
        elif self.masks_fn is not None:
            keep = np.ones(len(self.records), dtype=bool)
        return np.flatnonzero(keep)

    def gt(self, row, image_size, resize_size):
        """(m, 4) int64 GT boxes of ``row`` in input pixels; (0, 4) without boxes."""
        records = self.records
        if records.num_boxes[row] < 1:
            return np.zeros((0, 4), dtype=np.int64)
        boxes = validate_boxes(
            records.boxes[row, : records.num_boxes[row]],
            name=f"GT boxes of {records.image_paths[row]}",
        )
        original = self.frame_hw(row)
        problems = []
        for box in boxes:
            problem = box_problem(box, original[1], original[0])
            if problem:
                problems.append({
                    "image": records.image_paths[row], "box": [float(v) for v in box],
                    "problem": problem, "width": original[1], "height": original[0],
                })  # fmt: skip
        if problems:
            self.suspect[int(row)] = problems
        return gt_boxes_for_input(boxes, original, image_size, resize_size)

    def frame_hw(self, row):
        """(H, W) of the pixels the GT boxes of ``row`` are given in: the size its annotation
        states (wsol_metadata's image_sizes.txt, an ILSVRC XML's <size>) when known, as
        wsolevaluation rescales its boxes from image_sizes.txt whatever the file's size, else
        the file's own size. The two differ for images resized after they were annotated."""
        sizes = self.records.image_sizes
        if sizes is not None and min(int(v) for v in sizes[row]) > 0:
            width, height = (int(v) for v in sizes[row])
            return height, width
        return original_size_hw(self.records.image_paths[row])

    def mask(self, row, image_size, resize_size):
        """GT mask of ``row`` in input pixels, or None."""
        if self.masks_fn is not None:
            return self.masks_fn(self.records, row, image_size, resize_size)
        paths = self.records.mask_paths
        if paths is None or not paths[row]:
            return None
        return openimages_mask(paths[row], self.records.ignore_paths[row], image_size, resize_size)

    def batches(self, rows, image_size, resize_size, batch_size, with_annotations=True):
        """``EvalBatch``es of ``rows`` (in that order) through the evaluation pipeline."""
        rows = np.asarray(rows, dtype=np.int64)
        dataset = make_dataset(
            self.records.subset(rows), training=False, image_size=image_size,
            resize_size=resize_size, batch_size=batch_size,
        )  # fmt: skip
        for batch in dataset:
            batch_rows = rows[batch["index"].numpy()]
            gts = masks = None
            if with_annotations:
                gts = [self.gt(r, image_size, resize_size) for r in batch_rows]
                masks = [self.mask(r, image_size, resize_size) for r in batch_rows]
            yield EvalBatch(batch_rows, batch["image"], batch["label"].numpy(), gts, masks)

    def image_id(self, row):
        """wsolevaluation's id (path under the dataset folder) for saved score maps.

        wsol_metadata ids already are those paths (the image is ``<root>/<id>``); other
        sources derive it from the file's place under the dataset folder.
        """
        from wsol_tf.evaluation.scoremap_files import image_id_of

        image_id, path = self.records.image_ids[row], self.records.image_paths[row]
        if isinstance(image_id, str) and path.replace(os.sep, "/").endswith("/" + image_id):
            return image_id
        return image_id_of(path, self.records.data_dir or self.records.source)

    def name(self, row):
        """Short name of an image for captions: its file name without folder."""
        return os.path.basename(self.records.image_paths[row])


class TfdsEvalSource:
    """Evaluation view of a ``TfdsSource``: one read of the split yields images and GT.

    Which images have a box (pets: a trimap with pet pixels) is known only while reading, so
    every row is a candidate; the caller skips rows with neither box nor mask.
    """

    def __init__(self, source):
        self.source = source
        self.has_masks = source.mask_feature is not None
        self._gts = {}  # row -> GT boxes, filled while reading (pictures reuse them)

    def __len__(self):
        return len(self.source)

    def candidate_rows(self):
        return np.arange(len(self.source), dtype=np.int64)

    def gt(self, row, image_size, resize_size):
        if row not in self._gts:
            raise KeyError(f"{self.source.source}: row {row} has not been read yet")
        return self._gts[row]

    def _element_gt(self, element, image_size, resize_size):
        """(m, 4) int64 input-pixel boxes of one element (float64 maths, as for files)."""
        if int(element["num_boxes"]) < 1:
            return np.zeros((0, 4), dtype=np.int64)
        original = tuple(int(s) for s in element["image"].shape[:2])
        if "bbox" in element:
            ymin, xmin, ymax, xmax = np.asarray(element["bbox"], dtype=np.float64)[0]
            height, width = (float(s) for s in original)
            boxes = np.array([[xmin * width, ymin * height, xmax * width, ymax * height]])
        else:
            boxes = np.asarray(element["boxes"], dtype=np.float64)[: int(element["num_boxes"])]
        boxes = validate_boxes(boxes, name=f"GT boxes of {self.source.describe(element['row'])}")
        return gt_boxes_for_input(boxes, original, image_size, resize_size)

    def _element_mask(self, element, image_size, resize_size):
        # A tfds image without a box (a pet trimap with no pet pixel) is skipped altogether.
        if "mask" not in element or int(element["num_boxes"]) < 1:
            return None
        if self.source.box_mode == "mask":
            return pet_trimap_mask(element["mask"], image_size, resize_size)
        return cub_segmentation_mask(element["mask"], image_size, resize_size)

    def batches(self, rows, image_size, resize_size, batch_size, with_annotations=True):
        """``EvalBatch``es of the rows in ``rows`` (read order, not the order given)."""
        wanted = set(int(r) for r in rows)
        dataset = self.source.as_dataset(shuffle=False, seed=0, epoch=0, annotations=True)

        def prepare(element):
            # The eval geometry of make_dataset (resize, centre crop) on the image alone.
            image, _ = transforms.eval_transform(
                tf.cast(element["image"], tf.float32), tf.zeros((0, 4)), image_size, resize_size
            )
            return {**element, "input": image}

        dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        pending = []
        for element in dataset.prefetch(tf.data.AUTOTUNE).as_numpy_iterator():
            row = int(element["index"])
            if row not in wanted:
                continue
            element["row"] = row
            gt = self._element_gt(element, image_size, resize_size)
            self._gts[row] = gt
            mask = (
                self._element_mask(element, image_size, resize_size) if with_annotations else None
            )
            pending.append((row, element["input"], int(element["label"]), gt, mask))
            if len(pending) == batch_size:
                yield self._batch(pending, with_annotations)
                pending = []
        if pending:
            yield self._batch(pending, with_annotations)

    @staticmethod
    def _batch(pending, with_annotations):
        rows, images, labels, gts, masks = zip(*pending, strict=True)
        return EvalBatch(
            np.array(rows, dtype=np.int64), tf.constant(np.stack(images)),
            np.array(labels, dtype=np.int32), list(gts) if with_annotations else None,
            list(masks) if with_annotations else None,
        )  # fmt: skip

    def image_id(self, row):
        """The row's position in the split's read order, as a string (score map file name)."""
        return str(int(row))

    def name(self, row):
        return self.source.describe(row)


def eval_source(records, masks_fn=None):
    """The evaluation view of a split from ``load_split`` (``Records`` or ``TfdsSource``)."""
    if hasattr(records, "as_dataset"):
        if masks_fn is not None:
            raise ValueError("masks_fn is for file-backed splits; tfds splits bring their masks")
        return TfdsEvalSource(records)
    return FileEvalSource(records, masks_fn)
