"""Evaluate a trained WSOL model: CAMs -> boxes -> metrics.json and an overlay grid."""

import json
import os
import time

import numpy as np
import tensorflow as tf

from wsol_tf import models
from wsol_tf.cam import scoremaps_for_input
from wsol_tf.data.pipeline import as_hw, make_dataset
from wsol_tf.metrics import LocalizationEvaluator
from wsol_tf.visualize import overlay_grid, save_png


def gt_boxes_in_pixels(boxes):
    """Continuous (B, M, 4) boxes -> integer pixels, truncated as wsolevaluation's int()."""
    return np.floor(np.maximum(boxes, 0.0)).astype(np.int64)


def evaluate_model(
    model,
    records,
    *,
    image_size,
    resize_size=None,
    batch_size=32,
    cam_threshold=0.2,
    out_dir=None,
    num_overlays=8,
    print_fn=print,
):
    """Computes classic CAMs of the GT and predicted classes and scores their boxes.

    Args:
        model: a WSOL model from `wsol_tf.models.build` (weights loaded).
        records: `Records` of the split to evaluate; every image needs a box.
        image_size: (h, w) network input.
        resize_size: (h, w) before the center crop; None: image_size * 256 / 224.
        batch_size: images per forward pass.
        cam_threshold: tau of the headline numbers (the sweep is reported too).
        out_dir: where metrics.json and overlays.png go (None: write nothing).
        num_overlays: rows of the overlay grid (the first images of the split).
        print_fn: progress output.

    Returns:
        The metrics dict (also written to out_dir/metrics.json).
    """
    image_size = as_hw(image_size)
    if records.num_classes != model.outputs[0].shape[-1]:
        raise ValueError(
            f"The model has {model.outputs[0].shape[-1]} classes but {records.source} has "
            f"{records.num_classes}."
        )
    missing = np.flatnonzero(records.num_boxes < 1)
    if missing.size:
        raise ValueError(
            f"{records.source}: image {records.image_paths[missing[0]]} has no GT box; "
            "localization needs a box for every image."
        )
    cam_net = models.cam_model(model)
    kernel = models.classifier_kernel(model)
    forward = tf.function(lambda images: cam_net(images, training=False))
    evaluator = LocalizationEvaluator(cam_threshold=cam_threshold)
    dataset = make_dataset(
        records, training=False, image_size=image_size, resize_size=resize_size,
        batch_size=batch_size,
    )  # fmt: skip
    kept = {"images": [], "maps": [], "boxes": [], "index": []}
    started = time.perf_counter()
    for batch in dataset:
        features, logits = (t.numpy() for t in forward(batch["image"]))
        labels = batch["label"].numpy()
        predictions = logits.argmax(-1)
        maps_gt = scoremaps_for_input(features, kernel, labels, image_size)  # (B, H, W)
        maps_pred = maps_gt.copy()
        wrong = np.flatnonzero(predictions != labels)
        if wrong.size:
            maps_pred[wrong] = scoremaps_for_input(
                features[wrong], kernel, predictions[wrong], image_size
            )
        boxes = gt_boxes_in_pixels(batch["boxes"].numpy())
        num_boxes = batch["num_boxes"].numpy()
        evaluator.accumulate(maps_gt, maps_pred, predictions, labels, boxes, num_boxes)
        for i in range(len(labels)):
            if len(kept["images"]) < num_overlays:
                kept["images"].append(np.clip(batch["image"][i].numpy(), 0, 255).astype(np.uint8))
                kept["maps"].append(maps_gt[i])
                kept["boxes"].append(boxes[i, : num_boxes[i]])
                kept["index"].append(int(batch["index"][i]))
        print_fn(f"evaluated {evaluator.num_images}/{len(records)} images")
    metrics = evaluator.compute()
    metrics["seconds"] = time.perf_counter() - started
    metrics["num_skipped"] = 0
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        per_image = evaluator.per_image()
        rows = range(len(kept["images"]))
        pred_boxes = [per_image["gt_known_box"][r] for r in rows]
        captions = [
            f"id {records.image_ids[kept['index'][r]]} IoU {per_image['gt_known_iou'][r]:.2f}"
            for r in rows
        ]
        if kept["images"]:
            grid = overlay_grid(kept["images"], kept["maps"], kept["boxes"], pred_boxes, captions)
            metrics["overlays"] = str(save_png(os.path.join(out_dir, "overlays.png"), grid))
        with open(os.path.join(out_dir, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
    return metrics
