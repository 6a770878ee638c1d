"""Evaluate WSOL score maps: from a model (any extractor) or from saved ``.npy`` maps.

Both paths feed one ``LocalizationEvaluator`` with the GT class's map, the predicted class's
map, predictions, labels and GT boxes in network-input pixels (float64 maths, truncated with
int() as wsolevaluation does, see ``wsol_tf.evaluation.boxes.gt_boxes_for_input``), plus GT
masks for PxAP where the split has them (OpenImages mask files, tfds CUB segmentations, see
``wsol_tf.evaluation.gt_masks``), then draw the pictures (chosen, best and worst images by
GT-known IoU); ``wsol_tf.evaluation.api.evaluate`` writes metrics.json. Images with a mask
but no box count in PxAP and Top-1 Clas only. Splits are file-backed ``Records`` or tfds
sources (``wsol_tf.evaluation.sources``).
"""

import dataclasses
import os
import time

import numpy as np
import tensorflow as tf

from wsol_tf.data.decode import why_unreadable
from wsol_tf.data.pipeline import current_skip_log
from wsol_tf.data.sizes import as_hw, default_resize_size
from wsol_tf.evaluation.extractors import ScoreMapper
from wsol_tf.evaluation.metrics import LocalizationEvaluator
from wsol_tf.evaluation.scoremap_files import (
    load_scoremap,
    read_geometry,
    save_scoremap,
    scoremap_file,
    write_geometry,
)
from wsol_tf.evaluation.sources import (
    FileEvalSource,
    UnreadableImage,
    eval_source,
    original_size_hw,
)
from wsol_tf.evaluation.visualize import overlay_grid, save_png

__all__ = ["evaluate_model", "evaluate_scoremaps", "evaluate_scorer", "original_size_hw"]


def default_workers():
    """Threads of the contour scans: the machine's cores, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def _pick_pictures(per_image, rows, num):
    """Rows to draw: the first ``num``, the ``num`` best and ``num`` worst by GT-known IoU."""
    if num <= 0 or len(rows) == 0:
        return {}
    ious = np.nan_to_num(per_image["gt_known_iou"], nan=-1.0)
    order = np.argsort(-ious, kind="stable")  # best first, ties in evaluation order
    return {
        "chosen": [rows[i] for i in range(min(num, len(rows)))],
        "best": [rows[i] for i in order[:num]],
        "worst": [rows[i] for i in order[::-1][:num]],
    }


def _picture_plan(evaluator, rows, mask_rows, source, num):
    """(picks, {row: (predicted box or None, caption)}) for the picture grids.

    With box images: chosen, best and worst by GT-known IoU. With mask-only images only
    (OpenImages): the first ``num`` images, with their maps and no boxes.
    """
    if evaluator.num_images == 0:
        picks = {"chosen": list(mask_rows[:num])} if num > 0 and mask_rows else {}
        return picks, {r: (None, f"{source.name(r)} (mask)") for r in mask_rows[:num]}
    per_image = evaluator.per_image()
    info = {}
    for i, row in enumerate(rows):
        caption = f"{source.name(row)} IoU {per_image['gt_known_iou'][i]:.2f}" + (
            "" if per_image["correct_cls"][i] else " (wrong class)"
        )
        info[row] = (per_image["gt_known_box"][i], caption)
    return _pick_pictures(per_image, rows, num), info


def _write_pictures(picks, info, source, maps_for, image_size, resize_size, out_dir):
    """Render one PNG grid per pick list from one read of the picked images; {name: path}."""
    wanted = sorted({r for picked in picks.values() for r in picked})
    if not wanted:
        return {}
    images, maps = {}, {}
    for batch in source.batches(wanted, image_size, resize_size, 16, with_annotations=False):
        batch_maps = maps_for(batch)
        for i, row in enumerate(batch.rows):
            images[int(row)] = np.clip(batch.images[i].numpy(), 0, 255).astype(np.uint8)
            maps[int(row)] = batch_maps[i]
    paths = {}
    for name, picked in picks.items():
        if not picked:
            continue
        gts = [source.gt(r, image_size, resize_size) for r in picked]
        grid = overlay_grid(
            [images[r] for r in picked], [maps[r] for r in picked], gts,
            [info[r][0] for r in picked], [info[r][1] for r in picked],
        )  # fmt: skip
        filename = "overlays.png" if name == "chosen" else f"pictures_{name}.png"
        paths[name] = str(save_png(os.path.join(out_dir, filename), grid))
    return paths


def _finish(evaluator, skipped, started, source, pictures_fn, out_dir):
    """compute(), counts and pictures."""
    if evaluator.num_evaluated == 0:
        what = "GT box or mask" if source.has_masks else "GT box"
        raise ValueError(f"{_source_name(source)}: no image with a {what} to evaluate")
    metrics = evaluator.compute()
    metrics["num_skipped"] = int(skipped)
    suspect = source.suspect_report() if isinstance(source, FileEvalSource) else None
    if suspect:
        metrics["suspect_gt_boxes"] = suspect
    metrics["seconds"] = time.perf_counter() - started
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        pictures = pictures_fn()
        metrics["pictures"] = pictures
        if "chosen" in pictures:
            metrics["overlays"] = pictures["chosen"]
    return metrics


def _source_name(source):
    return source.records.source if isinstance(source, FileEvalSource) else source.source.source


def _split_batch(batch):
    """Boolean (B,) has-box and has-mask flags of a batch."""
    has_box = np.array([len(g) > 0 for g in batch.gts], dtype=bool)
    has_mask = np.array([m is not None for m in batch.masks], dtype=bool)
    return has_box, has_mask


def evaluate_model(
    model,
    records,
    *,
    image_size,
    resize_size=None,
    batch_size=32,
    cam_threshold=0.2,
    cam="classic",
    cam_curve_interval=0.001,
    out_dir=None,
    num_overlays=8,
    save_scoremaps=None,
    masks_fn=None,
    workers=None,
    print_fn=print,
):
    """Computes the GT and predicted classes' score maps and scores their boxes and masks.

    Args:
        model: a WSOL model from `wsol_tf.models.build` (weights loaded).
        records: the split from ``load_split``: file-backed `Records` or a tfds source
            (tfds_cub, tfds_pets; image ids are positions in the split's read order).
            Images with neither a GT box nor a GT mask are skipped and counted.
        image_size: (h, w) network input.
        resize_size: (h, w) before the center crop; None: image_size * 256 / 224.
        batch_size: images per forward pass.
        cam_threshold: tau of the headline numbers (the sweeps are reported too).
        cam: extractor name (`wsol_tf.evaluation.extractors.names()`) or `CamSpec`.
        cam_curve_interval: fine-grid step (MaxBoxAcc, MaxBoxAccV2, PxAP); None skips it
            (and then a split with masks is refused: PxAP needs the grid).
        out_dir: where the pictures go (None: none).
        num_overlays: rows of each picture grid (chosen = the first images, best, worst).
        save_scoremaps: folder to write the GT class's maps to (wsolevaluation layout; tfds
            rows are named by their read position).
        masks_fn: optional ``(records, row, image_size, resize_size) -> mask or None`` giving
            GT masks for PxAP in input pixels (file-backed splits; overrides their masks).
            Without it, masks come from the split (OpenImages metadata, tfds CUB / pets).
        workers: threads scanning the maps' contours (None: ``default_workers()``); the
            numbers do not depend on it.
        print_fn: progress output.

    Returns:
        The metrics dict; ``pxap`` is set when the split has masks; ``num_nonfinite_logits``
        counts the images whose logits hold NaN or Inf (with a warning when not 0).
    """
    if records.num_classes != model.num_classes:
        raise ValueError(
            f"The model has {model.num_classes} classes but {records.source} has "
            f"{records.num_classes}."
        )
    return evaluate_scorer(
        ScoreMapper(model, cam), records, image_size=image_size, resize_size=resize_size,
        batch_size=batch_size, cam_threshold=cam_threshold,
        cam_curve_interval=cam_curve_interval, out_dir=out_dir, num_overlays=num_overlays,
        save_scoremaps=save_scoremaps, masks_fn=masks_fn, workers=workers, print_fn=print_fn,
    )  # fmt: skip


def evaluate_scorer(
    scorer,
    records,
    *,
    image_size,
    resize_size=None,
    batch_size=32,
    cam_threshold=0.2,
    cam_curve_interval=0.001,
    out_dir=None,
    num_overlays=8,
    save_scoremaps=None,
    masks_fn=None,
    workers=None,
    print_fn=print,
):
    """``evaluate_model`` for any source of score maps and class predictions.

    ``scorer(images, classes)`` takes a (B, h, w, 3) float32 batch in [0, 255] and (B,)
    classes and returns (logits (B, C) numpy, normalized (B, h, w) float64 maps of those
    classes at the input size), as `ScoreMapper` does for a WSOL model; the logits' argmax
    is the predicted class (Top-1 Clas, Top-1 Loc). A scorer whose maps do not depend on the
    class sets ``class_agnostic = True``: the predicted class's map is then the GT class's,
    not computed again. Other arguments and the result: as ``evaluate_model``.
    """
    image_size = as_hw(image_size)
    resize_size = as_hw(resize_size) if resize_size is not None else default_resize_size(image_size)
    source = eval_source(records, masks_fn)
    if source.has_masks and cam_curve_interval is None:
        raise ValueError(f"{records.source} has GT masks: PxAP needs cam_curve_interval")
    evaluator = LocalizationEvaluator(
        cam_threshold=cam_threshold, cam_curve_interval=cam_curve_interval,
        workers=default_workers() if workers is None else int(workers),
    )  # fmt: skip
    if save_scoremaps:
        write_geometry(save_scoremaps, image_size, resize_size)
    candidates = source.candidate_rows()
    skipped = len(source) - len(candidates)
    rows, mask_rows = [], []
    nonfinite = 0  # images whose logits hold NaN/Inf (a diverged model): counted, not hidden
    constant = 0  # images whose GT-class map is constant (a collapsed model): no box at all
    started = time.perf_counter()
    for batch in source.batches(candidates, image_size, resize_size, batch_size):
        scored = _score_batch(batch, scorer, evaluator)
        skipped += scored.skipped
        nonfinite += scored.nonfinite
        constant += scored.constant
        rows.extend(scored.box_rows)
        mask_rows.extend(scored.mask_rows)
        if save_scoremaps:
            for k, scoremap in zip(scored.kept, scored.maps, strict=True):
                save_scoremap(save_scoremaps, source.image_id(batch.rows[k]), scoremap)
        print_fn(f"evaluated {evaluator.num_evaluated}/{len(candidates)} images")

    def maps_for(batch):
        return scorer(batch.images, batch.labels)[1]

    def pictures():
        picks, info = _picture_plan(evaluator, rows, mask_rows, source, num_overlays)
        return _write_pictures(picks, info, source, maps_for, image_size, resize_size, out_dir)

    metrics = _finish(evaluator, skipped, started, source, pictures, out_dir)
    # NaN logits still give a class (argmax: the first NaN) and their NaN maps a zero map (no
    # box), as in wsolevaluation; the count says the numbers come from a broken model.
    metrics["num_nonfinite_logits"] = nonfinite
    if nonfinite:
        print_fn(
            f"warning: {nonfinite} of {evaluator.num_evaluated} images have NaN or Inf logits "
            "(a diverged checkpoint?); their class is argmax's pick and their map scores as empty"
        )
    # A constant map normalizes to zeros: no pixel reaches any threshold, so no box (IoU 0).
    metrics["num_constant_maps"] = constant
    if constant:
        print_fn(
            f"warning: {constant} of {evaluator.num_evaluated} images have a constant score map "
            "of their GT class (a collapsed model? e.g. features all zero after the ReLU); such "
            "a map gives no box, so they score 0 on every localization metric"
        )
    return metrics


@dataclasses.dataclass
class _ScoredBatch:
    """What one batch added: images skipped (no box, no mask), images with NaN/Inf logits,
    images whose GT-class map is constant (normalized: all zero), rows scored with boxes and
    with masks only, and the kept positions with their maps."""

    skipped: int = 0
    nonfinite: int = 0
    constant: int = 0
    box_rows: list = dataclasses.field(default_factory=list)
    mask_rows: list = dataclasses.field(default_factory=list)
    kept: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    maps: object = ()


def _score_batch(batch, scorer, evaluator):
    """Scores one batch into `evaluator`: the GT class's maps (and the predicted class's,
    recomputed only where the prediction is wrong) for images with boxes; masks alone for the
    images that have only a mask."""
    has_box, has_mask = _split_batch(batch)
    keep = np.flatnonzero(has_box | has_mask)
    scored = _ScoredBatch(skipped=len(batch.rows) - len(keep), kept=keep)
    if len(keep) == 0:
        return scored
    images = batch.images if len(keep) == len(batch.rows) else tf.gather(batch.images, keep)
    labels = batch.labels[keep]
    logits, maps = scorer(images, labels)
    scored.maps = maps
    predictions = logits.argmax(-1)
    scored.nonfinite = int((~np.isfinite(logits).all(axis=-1)).sum())
    # Normalized maps reach 1 unless constant (then all zero, `normalize_scoremap`).
    scored.constant = int((np.asarray(maps).reshape(len(keep), -1).max(axis=1) <= 0).sum())
    boxed = np.flatnonzero(has_box[keep])  # positions in the kept images
    if len(boxed):
        maps_gt = maps if len(boxed) == len(keep) else maps[boxed]
        maps_pred = maps_gt.copy()
        wrong = np.flatnonzero(predictions[boxed] != labels[boxed])
        if wrong.size and not getattr(scorer, "class_agnostic", False):
            boxed_images = images if len(boxed) == len(keep) else tf.gather(images, boxed)
            _, maps_pred[wrong] = scorer(tf.gather(boxed_images, wrong), predictions[boxed][wrong])
        boxes, counts = _pad([batch.gts[keep[i]] for i in boxed])
        masks = [batch.masks[keep[i]] for i in boxed]
        evaluator.accumulate(
            maps_gt, maps_pred, predictions[boxed], labels[boxed], boxes, counts,
            masks=masks if any(m is not None for m in masks) else None,
        )  # fmt: skip
        scored.box_rows = [int(batch.rows[keep[i]]) for i in boxed]
    mask_only = np.flatnonzero(~has_box[keep])
    if len(mask_only):
        evaluator.accumulate_masks(
            maps[mask_only], [batch.masks[keep[i]] for i in mask_only],
            predictions[mask_only], labels[mask_only],
        )  # fmt: skip
        scored.mask_rows = [int(batch.rows[keep[i]]) for i in mask_only]
    return scored


def _pad(box_lists):
    """List of (m_i, 4) int boxes -> (B, M, 4) int64 padded with zeros, (B,) counts."""
    most = max(len(b) for b in box_lists)
    boxes = np.zeros((len(box_lists), most, 4), dtype=np.int64)
    for i, b in enumerate(box_lists):
        boxes[i, : len(b)] = b
    return boxes, np.array([len(b) for b in box_lists], dtype=np.int64)


def _accumulate_group(evaluator, group, records, prediction_of):
    """One accumulate() call for same-shaped (row, map, gt, mask, size) items with boxes."""
    rows = [item[0] for item in group]
    boxes, counts = _pad([item[2] for item in group])
    masks = [item[3] for item in group]
    evaluator.accumulate(
        np.stack([item[1] for item in group]), None,
        np.array([prediction_of(r) for r in rows], dtype=np.int64),
        np.array([int(records.labels[r]) for r in rows], dtype=np.int64), boxes, counts,
        masks=masks if any(m is not None for m in masks) else None,
    )  # fmt: skip


def _check_scoremaps_exist(scoremap_dir, source, rows):
    """Refuse, before any map is read, when maps are missing: how many, and which first.

    Scoring the maps that exist would silently shrink the denominator of every accuracy, and
    stopping at the first missing file would hide how many more are missing.

    Returns:
        (unused, unreadable): the number of ``.npy`` files in the folder that no image of
        ``rows`` uses (maps of another split, or of ids the split does not have: not scored,
        only counted), and {row: why} of the images without a map that do not decode (our
        --save_scoremaps writes none for them; they are skipped and counted, as when a model
        is evaluated).
    """
    missing, expected, unreadable = [], set(), {}
    for row in rows:
        path = scoremap_file(scoremap_dir, source.image_id(row))
        expected.add(os.path.normpath(path))
        if os.path.isfile(path):
            continue
        reason = why_unreadable(source.records.image_paths[row])  # a decode, only when no map
        if reason is None:
            missing.append((source.image_id(row), path))
        else:
            unreadable[int(row)] = reason
    if missing:
        shown = "; ".join(f"{image_id} ({path})" for image_id, path in missing[:3])
        more = f"; and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise FileNotFoundError(
            f"{scoremap_dir}: no score map for {len(missing)} of the {len(rows)} images to "
            f"evaluate: {shown}{more}"
        )
    found = {
        os.path.normpath(os.path.join(folder, name))
        for folder, _, names in os.walk(scoremap_dir)
        for name in names
        if name.endswith(".npy")
    }
    return len(found - expected), unreadable


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
    workers=None,
    print_fn=print,
):
    """Scores saved ``.npy`` maps (wsolevaluation layout) against the split's GT boxes and masks.

    No model is involved, so there is no classification: unless ``predictions`` are given,
    ``top1_clas``, ``top1_loc`` and ``best_top1_*`` are reported as None (the sweep lists'
    Top-1 entries then equal GT-known).

    Args:
        scoremap_dir: folder holding ``<image id>.npy`` for every image with a GT box or mask,
            plus an optional ``scoremaps.json`` (input geometry). Without it each image (and
            mask) is taken as resized, uncropped, to its map's size (wsolevaluation's
            convention).
        records: file-backed `Records` of the split. An image whose size cannot be read, or
            that has no map and does not decode, is skipped and recorded in the current
            skip log (`unreadable_files` in metrics.json), as when a model is evaluated.
        predictions: optional (N,) predicted class per record row.
        cam_threshold, cam_curve_interval, out_dir, num_overlays, masks_fn, print_fn: as in
            ``evaluate_model``.
        workers: threads reading maps and scanning their contours (None: ``default_workers()``);
            the numbers do not depend on it.

    Returns:
        The metrics dict, with ``num_unused_scoremaps``: ``.npy`` files of the folder that
        belong to no image of the split (ignored, as wsolevaluation ignores them).
    """
    source, geometry = _scoremap_inputs(scoremap_dir, records, predictions, cam_curve_interval,
                                        masks_fn)  # fmt: skip
    workers = default_workers() if workers is None else int(workers)
    evaluator = LocalizationEvaluator(
        cam_threshold=cam_threshold, cam_curve_interval=cam_curve_interval, workers=workers
    )
    candidates = source.candidate_rows()
    unused, no_map = _check_scoremaps_exist(scoremap_dir, source, candidates)
    reader = _MapReader(scoremap_dir, source, geometry, no_map)
    started = time.perf_counter()
    scored = _accumulate_scoremaps(evaluator, reader, candidates, predictions, print_fn)
    reader.refuse_invalid(len(candidates))
    skipped = len(records) - len(candidates) + scored.skipped

    def pictures():
        return _scoremap_pictures(evaluator, scored, source, reader, num_overlays, out_dir)

    metrics = _finish(evaluator, skipped, started, source, pictures, out_dir)
    metrics["num_unused_scoremaps"] = unused
    if unused:
        print_fn(f"note: {unused} .npy file(s) in {scoremap_dir} belong to no image of the split")
    if predictions is None:
        # Without a classifier there is no Top-1 anything; GT-known metrics stand alone.
        for key in ("top1_clas", "top1_loc", "best_top1_loc", "best_top1_threshold"):
            metrics[key] = None
    return metrics


def _scoremap_inputs(scoremap_dir, records, predictions, cam_curve_interval, masks_fn):
    """The refusals made before any map is read; (source, geometry or None)."""
    if not os.path.isdir(scoremap_dir):
        raise FileNotFoundError(f"--scoremaps folder {scoremap_dir} does not exist")
    if hasattr(records, "as_dataset"):
        raise ValueError(
            f"{records.source}: saved score maps are scored against file-backed splits only"
        )
    source = FileEvalSource(records, masks_fn)
    geometry = read_geometry(scoremap_dir)
    if predictions is not None and len(predictions) != len(records):
        raise ValueError(f"{len(predictions)} predictions for {len(records)} images")
    if source.has_masks and cam_curve_interval is None:
        raise ValueError(f"{records.source} has GT masks: PxAP needs cam_curve_interval")
    return source, geometry


class _MapReader:
    """Reads one image's saved map, GT boxes and mask (file reads only, safe on threads).

    An unreadable image is recorded in the current skip log, as `make_dataset` does when a
    model is evaluated (its size is unknown, and our own `--save_scoremaps` writes no map for
    it); a map that is no valid map is kept in ``invalid`` so that all of them are named.
    """

    def __init__(self, scoremap_dir, source, geometry, no_map):
        self.scoremap_dir = scoremap_dir
        self.source = source
        self.geometry = geometry  # (image_size, resize_size) of scoremaps.json, or None
        self.no_map = no_map  # {row: why} of the images without a map that do not decode
        self.skip_log = current_skip_log()
        self.invalid = []  # (row, message) of maps that are not finite 2D float maps in [0, 1]

    def load(self, row):
        shape = self.geometry[0] if self.geometry is not None else None
        return load_scoremap(self.scoremap_dir, self.source.image_id(row), shape)

    def __call__(self, row):
        """(row, map, GT boxes, mask, geometry) of one image; None for an unreadable image
        or an invalid map."""
        path = self.source.records.image_paths[row]
        if int(row) in self.no_map:
            self.skip_log.record(path, self.no_map[int(row)], int(row))
            return None
        try:
            original_size_hw(path)
            scoremap = self.load(row)
        except UnreadableImage as error:
            self.skip_log.record(path, error.reason, int(row))
            return None
        except ValueError as error:  # a map that is no valid map: all of them are listed
            self.invalid.append((int(row), str(error)))
            return None
        known = self.geometry is not None
        image_size, resize_size = self.geometry if known else (scoremap.shape, None)
        gt = self.source.gt(row, image_size, resize_size)
        mask = self.source.mask(row, image_size, resize_size)
        return int(row), scoremap, gt, mask, (image_size, resize_size)

    def refuse_invalid(self, total):
        """Refused, not skipped: scoring a method without its worst maps would flatter it.
        Called once every map was read, so the message counts them all."""
        if not self.invalid:
            return
        invalid = sorted(self.invalid)
        shown = "; ".join(message for _, message in invalid[:3])
        more = f"; and {len(invalid) - 3} more" if len(invalid) > 3 else ""
        raise ValueError(
            f"{self.scoremap_dir}: {len(invalid)} of the {total} score maps are not valid "
            f"maps: {shown}{more}"
        )


@dataclasses.dataclass
class _Scored:
    """What the accumulation of saved maps leaves for the pictures and the counts."""

    rows: list = dataclasses.field(default_factory=list)  # box images, in evaluation order
    mask_rows: list = dataclasses.field(default_factory=list)  # mask-only images
    sizes: dict = dataclasses.field(default_factory=dict)  # {row: (image_size, resize_size)}
    skipped: int = 0  # read images with neither a GT box nor a mask


def _accumulate_scoremaps(evaluator, reader, candidates, predictions, print_fn):
    """Reads and scores the maps of ``candidates``; the `_Scored` rows, sizes and skips.

    Maps are read and scored a chunk at a time: reading on the evaluator's threads, and each
    chunk's same-shaped boxed maps in one accumulate() call (its contour scans run on those
    threads too). Counts do not depend on the chunking.
    """
    records = reader.source.records

    def prediction_of(row):
        return int(records.labels[row]) if predictions is None else int(predictions[row])

    scored = _Scored()
    chunk = 32 * max(1, evaluator.workers)
    done = 0
    for start in range(0, len(candidates), chunk):
        items = evaluator.parallel_map(reader, candidates[start : start + chunk])
        _accumulate_chunk(evaluator, items, scored, records, prediction_of)
        if (done + len(items)) // 100 > done // 100:
            print_fn(f"evaluated {done + len(items)}/{len(candidates)} score maps")
        done += len(items)
    return scored


def _accumulate_chunk(evaluator, items, scored, records, prediction_of):
    """Scores one chunk's read items in order: runs of same-shaped box maps together, each
    mask-only map on its own."""
    group = []
    for item in items:
        if item is None:  # unreadable image: counted by the skip log, as in evaluate_model
            continue
        row, scoremap, gt, mask, size = item
        scored.sizes[row] = size
        if len(gt):
            if group and group[-1][1].shape != scoremap.shape:
                _accumulate_group(evaluator, group, records, prediction_of)
                group = []
            group.append(item)
            scored.rows.append(row)
        elif mask is not None:
            evaluator.accumulate_masks(
                scoremap[None], [mask], np.array([prediction_of(row)]),
                np.array([int(records.labels[row])]),
            )  # fmt: skip
            scored.mask_rows.append(row)
        else:
            scored.skipped += 1
    if group:
        _accumulate_group(evaluator, group, records, prediction_of)


def _scoremap_pictures(evaluator, scored, source, reader, num_overlays, out_dir):
    """The picture grids of saved maps: only the picked images of the first one's geometry."""
    picks, info = _picture_plan(evaluator, scored.rows, scored.mask_rows, source, num_overlays)
    if not picks:
        return {}
    image_size, resize_size = scored.sizes[picks["chosen"][0]]
    same = {r for r in scored.sizes if scored.sizes[r] == (image_size, resize_size)}
    picks = {k: [r for r in v if r in same] for k, v in picks.items()}
    return _write_pictures(
        picks, info, source, lambda batch: [reader.load(r) for r in batch.rows],
        image_size, resize_size, out_dir,
    )  # fmt: skip
