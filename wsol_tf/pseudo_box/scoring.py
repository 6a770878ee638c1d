"""Scoring one box per image: GT-known Loc, Top-1 Loc and box accuracy at IoU 0.3 / 0.5 / 0.7.

Boxes are compared as the evaluator compares them: GT boxes in the evaluation view's input
pixels (`evaluation.sources.FileEvalSource.gt`, i.e. `gt_boxes_for_input`), IoU with the +1
pixel convention (`evaluation.boxes.iou`), the best over the image's GT boxes, a hit at
IoU >= delta. A regressor gives one box per image and no score map, so there is no threshold
to sweep: MaxBoxAccV2 (the best threshold per IoU delta) does not apply; the accuracy at
each delta is reported instead.
"""

from __future__ import annotations

import weakref

import numpy as np

from wsol_tf.evaluation.boxes import iou
from wsol_tf.evaluation.visualize import _put_caption, draw_boxes, save_png

IOU_THRESHOLDS = (0.3, 0.5, 0.7)
LOC_IOU = 0.5
MAXBOXACC_V2_REASON = (
    "not applicable: the pseudo-box regressor gives one box per image and no score map, so "
    "there is no CAM threshold to choose per IoU; see box_accuracy for the accuracy at IoU "
    "0.3, 0.5 and 0.7"
)


def best_ious(predicted, gt_lists) -> np.ndarray:
    """(N,) best IoU of each predicted box (N, 4) with its image's GT boxes (m_i, 4)."""
    return np.array(
        [float(iou(box, gts).max()) if len(gts) else np.nan
         for box, gts in zip(predicted, gt_lists, strict=True)]
    )  # fmt: skip


def box_metrics(predicted, gt_lists, labels, predictions, iou_thresholds=IOU_THRESHOLDS):
    """The metrics of one box per image (percentages).

    Args:
        predicted: (N, 4) boxes in input pixels.
        gt_lists: N arrays (m_i >= 1, 4) of GT boxes in the same pixels.
        labels: (N,) true classes; predictions: (N,) the classifier's top-1 (or None).

    Returns:
        {"gt_known_loc", "top1_loc" (None without predictions), "top1_clas" (idem),
        "box_accuracy": {"0.3": ..., ...}, "num_images"}.
    """
    ious = best_ious(predicted, gt_lists)
    n = len(ious)
    if n == 0:
        raise ValueError("no image with a GT box to score")
    hits = {delta: ious >= delta for delta in iou_thresholds}
    located = ious >= LOC_IOU
    metrics = {
        "gt_known_loc": float(located.mean() * 100.0),
        "top1_loc": None,
        "top1_clas": None,
        "box_accuracy": {str(delta): float(hit.mean() * 100.0) for delta, hit in hits.items()},
        "num_images": int(n),
    }
    if predictions is not None:
        correct = np.asarray(predictions) == np.asarray(labels)
        metrics["top1_clas"] = float(correct.mean() * 100.0)
        metrics["top1_loc"] = float((correct & located).mean() * 100.0)
    return metrics


def score_split(regressor, classifier, source, rows, *, image_size, resize_size, batch_size,
                print_fn=print):  # fmt: skip
    """Runs the regressor (and the classifier, when given) on the evaluation view of `rows`
    of `source` (`FileEvalSource`); returns (metrics, per-image dict of "rows", "boxes",
    "gts", "labels", "predictions", "ious")."""
    from wsol_tf.pseudo_box.regressor import predict_boxes, to_input_pixels

    boxes_fn = _compiled(
        regressor, "boxes", lambda images: to_input_pixels(predict_boxes(regressor, images),
                                                           image_size)
    )  # fmt: skip
    logits_fn = None
    if classifier is not None:
        logits_fn = _compiled(
            classifier, "logits", lambda images: classifier(images, training=False)["logits"]
        )
    out = {"rows": [], "boxes": [], "gts": [], "labels": [], "predictions": []}
    for batch in source.batches(rows, image_size, resize_size, batch_size):
        out["rows"].extend(int(r) for r in batch.rows)
        out["boxes"].extend(boxes_fn(batch.images).numpy().astype(np.int64))
        out["gts"].extend(batch.gts)
        out["labels"].extend(int(label) for label in batch.labels)
        if logits_fn is not None:
            out["predictions"].extend(np.argmax(logits_fn(batch.images).numpy(), axis=-1))
        print_fn(f"scored {len(out['rows'])}/{len(rows)} images")
    predictions = np.asarray(out["predictions"]) if logits_fn is not None else None
    metrics = box_metrics(np.asarray(out["boxes"]), out["gts"], out["labels"], predictions)
    out["ious"] = best_ious(np.asarray(out["boxes"]), out["gts"])
    return metrics, out


_FUNCTIONS = weakref.WeakKeyDictionary()  # model -> {name: tf.function}


def _compiled(model, name, fn):
    """`fn` as one tf.function per model (not an attribute of it: a SavedModel of the model
    would save it), so scoring val after each trial and then test traces it once per model."""
    import tensorflow as tf

    cache = _FUNCTIONS.setdefault(model, {})
    if name not in cache:
        cache[name] = tf.function(fn, reduce_retracing=True)
    return cache[name]


def picture_grid(images, gt_lists, predicted, captions, columns=4):
    """Overlays in a grid: each image with its GT boxes (red) and predicted box (green)."""
    panels = []
    for image, gts, box, caption in zip(images, gt_lists, predicted, captions, strict=True):
        panel = draw_boxes(image, gts, box)
        if caption:
            _put_caption(panel, caption)
        panels.append(panel)
    blank = np.zeros_like(panels[0])
    while len(panels) % columns:
        panels.append(blank)
    rows = [np.concatenate(panels[i : i + columns], axis=1) for i in range(0, len(panels), columns)]
    return np.concatenate(rows, axis=0)


def write_pictures(path, source, per_image, *, image_size, resize_size, num):
    """overlays.png of the first `num` scored images (GT red, predicted green); the path or
    None when `num` is 0."""
    if num <= 0 or not per_image["rows"]:
        return None
    picked = per_image["rows"][:num]
    images = []
    for batch in source.batches(picked, image_size, resize_size, num, with_annotations=False):
        images.extend(np.clip(batch.images.numpy(), 0, 255).astype(np.uint8))
    count = len(images)
    captions = [
        f"{source.name(r)} IoU {per_image['ious'][i]:.2f}" for i, r in enumerate(picked[:count])
    ]
    grid = picture_grid(
        images, per_image["gts"][:count], per_image["boxes"][:count], captions,
        columns=min(4, count),
    )  # fmt: skip
    return str(save_png(path, grid))
