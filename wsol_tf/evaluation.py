"""Evaluate WSOL score maps: from a model (CAM or Grad-CAM) or from saved ``.npy`` maps.

Both paths feed one ``LocalizationEvaluator`` with the GT class's map, the predicted class's
map, predictions, labels and GT boxes in network-input pixels (float64 maths, truncated with
int() as wsolevaluation does, see ``wsol_tf.boxes.gt_boxes_for_input``), then write
metrics.json and the pictures (chosen, best and worst images by GT-known IoU).
"""

import json
import os
import time

import numpy as np
import tensorflow as tf

from wsol_tf import models
from wsol_tf.boxes import gt_boxes_for_input, validate_boxes
from wsol_tf.cam import grad_cam_maps, normalize_scoremap, scoremaps_for_input, upsample_scoremaps
from wsol_tf.data.pipeline import as_hw, default_resize_size, make_dataset
from wsol_tf.metrics import LocalizationEvaluator
from wsol_tf.scoremaps import (
    image_id_of,
    load_scoremap,
    read_geometry,
    save_scoremap,
    write_geometry,
)
from wsol_tf.visualize import overlay_grid, save_png

CAM_METHODS = ("cam", "gradcam")


def gt_boxes_in_pixels(boxes):
    """Continuous (B, M, 4) boxes -> integer pixels, truncated as wsolevaluation's int()."""
    return np.floor(np.maximum(boxes, 0.0)).astype(np.int64)


def original_size_hw(path):
    """(H, W) of an image file; JPEG headers are read without decoding."""
    data = tf.io.read_file(path)
    if data.numpy()[:2] == b"\xff\xd8":
        shape = tf.image.extract_jpeg_shape(data).numpy()
    else:
        shape = tf.shape(tf.io.decode_image(data, channels=3, expand_animations=False)).numpy()
    return int(shape[0]), int(shape[1])


def subset(records, rows):
    """Records of the given rows only (same classes and source; every per-image field)."""
    return records.subset(rows)


class ScoremapModel:
    """Images -> (logits, score maps of chosen classes) for a WSOL model.

    Args:
        model: a model from ``wsol_tf.models.build`` with its weights.
        image_size: (h, w) network input.
        cam: "cam" (classic CAM, default) or "gradcam" (Tensorpack's Grad-CAM without ReLU).
    """

    def __init__(self, model, image_size, cam="cam"):
        if cam not in CAM_METHODS:
            raise ValueError(f"cam={cam!r}: valid choices are {', '.join(CAM_METHODS)}")
        self.image_size = as_hw(image_size)
        self.cam = cam
        self._net = models.cam_model(model)
        self._kernel = models.classifier_kernel(model)
        self._forward = tf.function(lambda images: self._net(images, training=False))
        self._with_grads = tf.function(self._features_and_grads)

    def _features_and_grads(self, images, classes):
        with tf.GradientTape() as tape:
            features, logits = self._net(images, training=False)
            chosen = tf.gather(logits, classes, axis=1, batch_dims=1)  # (B,)
            total = tf.reduce_sum(chosen)  # images are independent at inference
        return features, logits, tape.gradient(total, features)

    def logits(self, images):
        """(B, C) logits of a (B, h, w, 3) batch in [0, 255]."""
        return self._forward(images)[1].numpy()

    def __call__(self, images, classes):
        """Logits (B, C) and normalised (B, h, w) float64 maps of ``classes`` (B,)."""
        classes = np.asarray(classes, dtype=np.int32)
        if self.cam == "cam":
            features, logits = (t.numpy() for t in self._forward(images))
            maps = scoremaps_for_input(features, self._kernel, classes, self.image_size)
            return logits, maps
        features, logits, grads = (
            t.numpy() for t in self._with_grads(images, tf.constant(classes))
        )
        cams = grad_cam_maps(features, grads)  # (B, h', w')
        return logits, normalize_scoremap(upsample_scoremaps(cams, self.image_size))


def _pick_pictures(per_image, rows, num):
    """Record rows to draw: the first ``num``, the ``num`` best and ``num`` worst by IoU."""
    if num <= 0 or len(rows) == 0:
        return {}
    ious = np.nan_to_num(per_image["gt_known_iou"], nan=-1.0)
    order = np.argsort(-ious, kind="stable")  # best first, ties in evaluation order
    return {
        "chosen": [rows[i] for i in range(min(num, len(rows)))],
        "best": [rows[i] for i in order[:num]],
        "worst": [rows[i] for i in order[::-1][:num]],
    }


def _write_pictures(picks, per_image, rows, records, load_maps, image_size, resize_size, out_dir):
    """Render one PNG grid per pick list; returns {name: path}."""
    where = {row: i for i, row in enumerate(rows)}
    paths = {}
    for name, picked in picks.items():
        sub = subset(records, picked)
        images = []
        for batch in make_dataset(
            sub, training=False, image_size=image_size, resize_size=resize_size, batch_size=16
        ):
            images.extend(np.clip(batch["image"].numpy(), 0, 255).astype(np.uint8))
        maps = load_maps(picked)
        gts, preds, captions = [], [], []
        for row in picked:
            i = where[row]
            gts.append(gt_for_row(records, row, image_size, resize_size))
            preds.append(per_image["gt_known_box"][i])
            captions.append(
                f"{image_label(records, row)} IoU {per_image['gt_known_iou'][i]:.2f}"
                + ("" if per_image["correct_cls"][i] else " (wrong class)")
            )
        grid = overlay_grid(images, maps, gts, preds, captions)
        filename = "overlays.png" if name == "chosen" else f"pictures_{name}.png"
        paths[name] = str(save_png(os.path.join(out_dir, filename), grid))
    return paths


def image_label(records, row):
    """Short name of an image for captions: its file name without folder."""
    return os.path.basename(records.image_paths[row])


def gt_for_row(records, row, image_size, resize_size):
    """(m, 4) int64 GT boxes of one record in input pixels."""
    boxes = validate_boxes(
        records.boxes[row, : records.num_boxes[row]], name=f"GT boxes of {records.image_paths[row]}"
    )
    original = original_size_hw(records.image_paths[row])
    return gt_boxes_for_input(boxes, original, image_size, resize_size)


def _finish(evaluator, rows, skipped, started, records, picks_fn, out_dir):
    """compute(), counts, pictures and metrics.json."""
    if evaluator.num_images == 0:
        raise ValueError(f"{records.source}: no image with a GT box to evaluate")
    metrics = evaluator.compute()
    metrics["num_skipped"] = int(skipped)
    metrics["seconds"] = time.perf_counter() - started
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        pictures = picks_fn(evaluator.per_image(), rows)
        metrics["pictures"] = pictures
        if "chosen" in pictures:
            metrics["overlays"] = pictures["chosen"]
        with open(os.path.join(out_dir, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
    return metrics


def evaluate_model(
    model,
    records,
    *,
    image_size,
    resize_size=None,
    batch_size=32,
    cam_threshold=0.2,
    cam="cam",
    cam_curve_interval=0.001,
    out_dir=None,
    num_overlays=8,
    save_scoremaps=None,
    masks_fn=None,
    print_fn=print,
):
    """Computes the GT and predicted classes' score maps and scores their boxes.

    Args:
        model: a WSOL model from `wsol_tf.models.build` (weights loaded).
        records: `Records` of the split; images without a GT box are skipped and counted.
        image_size: (h, w) network input.
        resize_size: (h, w) before the center crop; None: image_size * 256 / 224.
        batch_size: images per forward pass.
        cam_threshold: tau of the headline numbers (the sweeps are reported too).
        cam: "cam" or "gradcam".
        cam_curve_interval: fine-grid step (MaxBoxAcc, MaxBoxAccV2, PxAP); None skips it.
        out_dir: where metrics.json and the pictures go (None: write nothing).
        num_overlays: rows of each picture grid (chosen = the first images, best, worst).
        save_scoremaps: folder to write the GT class's maps to (wsolevaluation layout).
        masks_fn: optional ``(records, row, image_size, resize_size) -> mask or None`` giving
            GT masks for PxAP in input pixels.
        print_fn: progress output.

    Returns:
        The metrics dict (also written to out_dir/metrics.json).
    """
    image_size = as_hw(image_size)
    resize_size = as_hw(resize_size) if resize_size is not None else default_resize_size(image_size)
    num_classes = model.outputs[0].shape[-1]
    if records.num_classes != num_classes:
        raise ValueError(
            f"The model has {num_classes} classes but {records.source} has {records.num_classes}."
        )
    scorer = ScoremapModel(model, image_size, cam)
    evaluator = LocalizationEvaluator(
        cam_threshold=cam_threshold, cam_curve_interval=cam_curve_interval
    )
    if save_scoremaps:
        write_geometry(save_scoremaps, image_size, resize_size)
    has_box = np.flatnonzero(records.num_boxes >= 1)
    skipped = len(records) - len(has_box)
    dataset = make_dataset(
        subset(records, has_box), training=False, image_size=image_size,
        resize_size=resize_size, batch_size=batch_size,
    )  # fmt: skip
    rows = []
    started = time.perf_counter()
    for batch in dataset:
        batch_rows = has_box[batch["index"].numpy()]
        labels = batch["label"].numpy()
        logits, maps_gt = scorer(batch["image"], labels)
        predictions = logits.argmax(-1)
        maps_pred = maps_gt.copy()
        wrong = np.flatnonzero(predictions != labels)
        if wrong.size:
            _, maps_pred[wrong] = scorer(tf.gather(batch["image"], wrong), predictions[wrong])
        gts = [gt_for_row(records, r, image_size, resize_size) for r in batch_rows]
        boxes, counts = _pad(gts)
        masks = None
        if masks_fn is not None:
            masks = [masks_fn(records, r, image_size, resize_size) for r in batch_rows]
        evaluator.accumulate(maps_gt, maps_pred, predictions, labels, boxes, counts, masks=masks)
        if save_scoremaps:
            for r, m in zip(batch_rows, maps_gt, strict=True):
                image_id = image_id_of(records.image_paths[r], records.source)
                save_scoremap(save_scoremaps, image_id, m)
        rows.extend(int(r) for r in batch_rows)
        print_fn(f"evaluated {evaluator.num_images}/{len(has_box)} images")

    def load_maps(picked):
        out = []
        for start in range(0, len(picked), batch_size):
            chunk = subset(records, picked[start : start + batch_size])
            for batch in make_dataset(
                chunk, training=False, image_size=image_size, resize_size=resize_size,
                batch_size=batch_size,
            ):  # fmt: skip
                out.extend(scorer(batch["image"], batch["label"].numpy())[1])
        return out

    def pictures(per_image, rows):
        picks = _pick_pictures(per_image, rows, num_overlays)
        return _write_pictures(
            picks, per_image, rows, records, load_maps, image_size, resize_size, out_dir
        )

    return _finish(evaluator, rows, skipped, started, records, pictures, out_dir)


def _pad(box_lists):
    """List of (m_i, 4) int boxes -> (B, M, 4) int64 padded with zeros, (B,) counts."""
    most = max(len(b) for b in box_lists)
    boxes = np.zeros((len(box_lists), most, 4), dtype=np.int64)
    for i, b in enumerate(box_lists):
        boxes[i, : len(b)] = b
    return boxes, np.array([len(b) for b in box_lists], dtype=np.int64)


def evaluate_scoremaps(
    scoremap_dir,
    records,
    *,
    predictions=None,
    cam_threshold=0.2,
    cam_curve_interval=0.001,
    out_dir=None,
    num_overlays=8,
    masks_fn=None,
    print_fn=print,
):
    """Scores saved ``.npy`` maps (wsolevaluation layout) against the split's GT boxes.

    No model is involved, so there is no classification: unless ``predictions`` are given,
    ``top1_clas``, ``top1_loc`` and ``best_top1_*`` are reported as None (the sweep lists'
    Top-1 entries then equal GT-known).

    Args:
        scoremap_dir: folder holding ``<image id>.npy`` for every image with a GT box, plus
            an optional ``scoremaps.json`` (input geometry). Without it each image is taken as
            resized, uncropped, to its map's size (wsolevaluation's convention).
        records: `Records` of the split.
        predictions: optional (N,) predicted class per record row.
        cam_threshold, cam_curve_interval, out_dir, num_overlays, masks_fn, print_fn: as in
            ``evaluate_model``.

    Returns:
        The metrics dict (also written to out_dir/metrics.json).
    """
    if not os.path.isdir(scoremap_dir):
        raise FileNotFoundError(f"--scoremaps folder {scoremap_dir} does not exist")
    geometry = read_geometry(scoremap_dir)
    if predictions is not None and len(predictions) != len(records):
        raise ValueError(f"{len(predictions)} predictions for {len(records)} images")
    evaluator = LocalizationEvaluator(
        cam_threshold=cam_threshold, cam_curve_interval=cam_curve_interval
    )
    has_box = np.flatnonzero(records.num_boxes >= 1)
    skipped = len(records) - len(has_box)
    rows, sizes = [], {}
    started = time.perf_counter()

    def geometry_of(row, scoremap_shape):
        if geometry is not None:
            return geometry
        return scoremap_shape, None

    def load(row):
        image_id = image_id_of(records.image_paths[row], records.source)
        shape = geometry[0] if geometry is not None else None
        return load_scoremap(scoremap_dir, image_id, shape)

    for i, row in enumerate(has_box):
        scoremap = load(row)
        image_size, resize_size = geometry_of(row, scoremap.shape)
        sizes[int(row)] = (image_size, resize_size)
        gt = gt_for_row(records, row, image_size, resize_size)
        label = int(records.labels[row])
        prediction = label if predictions is None else int(predictions[row])
        masks = None if masks_fn is None else [masks_fn(records, row, image_size, resize_size)]
        evaluator.accumulate(
            scoremap[None], None, np.array([prediction]), np.array([label]), gt[None],
            np.array([len(gt)]), masks=masks,
        )  # fmt: skip
        rows.append(int(row))
        if (i + 1) % 100 == 0:
            print_fn(f"evaluated {i + 1}/{len(has_box)} score maps")

    def pictures(per_image, rows):
        picks = _pick_pictures(per_image, rows, num_overlays)
        if not picks:
            return {}
        image_size, resize_size = sizes[rows[0]]
        same = [r for r in rows if sizes[r] == (image_size, resize_size)]
        picks = {k: [r for r in v if r in set(same)] for k, v in picks.items()}
        return _write_pictures(
            picks, per_image, rows, records, lambda picked: [load(r) for r in picked],
            image_size, resize_size, out_dir,
        )  # fmt: skip

    metrics = _finish(evaluator, rows, skipped, started, records, pictures, out_dir)
    if predictions is None:
        # Without a classifier there is no Top-1 anything; GT-known metrics stand alone.
        for key in ("top1_clas", "top1_loc", "best_top1_loc", "best_top1_threshold"):
            metrics[key] = None
        if out_dir:
            with open(os.path.join(out_dir, "metrics.json"), "w") as f:
                json.dump(metrics, f, indent=2)
    return metrics
