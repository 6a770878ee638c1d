"""Checks a dataset folder before training: counts, classes, box statistics, unreadable files.

Every split's annotations are read first (a malformed line is reported before anything is
decoded and before TensorFlow is imported); then every image of each split is read and
decoded once (in parallel), so a bad file is found now rather than hours into training.
Reported per split: unreadable files (named, with why), GT boxes that are empty or stick out
of their image on any side (named, with the image size), the same file listed twice, and
image sizes that differ from the annotation's, a split with no images, and the classes a split
has no image of (a problem in the train split: those classes are never learnt). Library side of
`python -m wsol_tf.data check` (see `__main__.py`).
"""

import collections
import os

import numpy as np

from wsol_tf.data import datasets
from wsol_tf.data.annotations import box_problem
from wsol_tf.data.datasets import load_split, require_data_dir
from wsol_tf.files import NotWritable, check_writable, listing, write_json

LISTED = 20  # problems named per kind and split in the printed report (JSON: all)


def scan_images(source):
    """Decodes every image of a split once.

    Returns:
        (sizes, boxes, labels, unreadable): sizes (N, 2) int `width, height`
        (0, 0 for unreadable files), boxes a list of (n_i, 4) arrays in
        original-image pixels, labels (N,), and unreadable a list of
        {"index", "path", "reason"}.
    """
    import tensorflow as tf

    from wsol_tf.data.decode import path_bytes, try_decode, why_unreadable

    n = len(source)
    sizes = np.zeros((n, 2), np.int64)
    if n == 0:  # an empty split (e.g. every CUB image marked training): nothing to decode
        return sizes, [], np.zeros(0, np.int32), []
    if hasattr(source, "as_dataset"):  # tfds: decoded by tfds; boxes only known after reading
        boxes, labels = [None] * n, np.zeros(n, np.int32)
        for e in source.as_dataset(shuffle=False, seed=0, epoch=0).prefetch(64):
            i = int(e["index"])
            sizes[i] = (e["image"].shape[1], e["image"].shape[0])
            boxes[i] = e["boxes"].numpy()[: int(e["num_boxes"])]
            labels[i] = int(e["label"])
        return sizes, boxes, labels, []
    dataset = tf.data.Dataset.from_tensor_slices(
        {"path": [path_bytes(p) for p in source.image_paths], "index": tf.range(n, dtype=tf.int32)}
    )
    dataset = dataset.interleave(
        try_decode, cycle_length=16, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False
    )
    dataset = dataset.map(
        lambda e: {"index": e["index"], "shape": tf.shape(e["image"])[:2], "ok": e["ok"]},
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    unreadable = []
    for e in dataset.prefetch(64).as_numpy_iterator():
        i = int(e["index"])
        if e["ok"]:
            sizes[i] = (e["shape"][1], e["shape"][0])
        else:
            path = source.image_paths[i]
            unreadable.append({"index": i, "path": path, "reason": why_unreadable(path)})
    boxes = [source.boxes[i, : source.num_boxes[i]] for i in range(n)]
    return sizes, boxes, np.asarray(source.labels), sorted(unreadable, key=lambda u: u["index"])


def split_report(source, sizes, boxes, labels, unreadable):
    """Summary statistics of one scanned split (a JSON-able dict)."""
    n = len(source)
    stated = getattr(source, "image_sizes", None)
    # Boxes are checked against the size they are given in: the stated one where known.
    frames = _box_frames(sizes, stated)
    counts = np.bincount(np.asarray(labels, np.int64), minlength=source.num_classes)
    present = counts[counts > 0]
    per_image = np.array([len(b) for b in boxes], np.int64)
    all_boxes = np.concatenate([b for b in boxes if len(b)] or [np.zeros((0, 4))])
    owner = np.repeat(np.arange(len(boxes)), per_image)
    report = {
        "source": source.source,
        "images": len(source),
        "classes": int(source.num_classes),
        "classes_present": int(len(present)),
        "images_per_class": [int(present.min()), int(present.max())] if len(present) else [0, 0],
        "classes_without_images": [
            str(source.class_names[i]) for i in np.flatnonzero(counts == 0)
        ],  # fmt: skip
        "boxes": int(len(all_boxes)),
        "boxes_per_image": [int(per_image.min()), int(per_image.max())] if n else [0, 0],
        "images_without_box": int((per_image == 0).sum()),
        "unreadable": len(unreadable),
        "unreadable_files": unreadable,
        "suspect_boxes": suspect_boxes(source, frames, boxes),
        "duplicate_files": duplicate_files(source),
    }
    if len(all_boxes):
        w = all_boxes[:, 2] - all_boxes[:, 0]
        h = all_boxes[:, 3] - all_boxes[:, 1]
        image_wh = frames[owner].astype(np.float64)
        known = image_wh[:, 0] > 0
        area = w[known] * h[known] / (image_wh[known, 0] * image_wh[known, 1])
        kb, kw = all_boxes[known], image_wh[known]
        outside = (
            (kb[:, 0] < 0) | (kb[:, 1] < 0) | (kb[:, 2] > kw[:, 0]) | (kb[:, 3] > kw[:, 1])
        )  # any edge: left, top, right, bottom
        report.update(
            {
                "box_width_mean": float(w.mean()),
                "box_height_mean": float(h.mean()),
                "box_area_fraction": [
                    float(area.min()),
                    float(np.median(area)),
                    float(area.max()),
                ]
                if area.size
                else None,
                "empty_boxes": int(((w <= 0) | (h <= 0)).sum()),
                "boxes_outside_image": int(outside.sum()),
            }
        )
    if stated is not None:
        # An image whose annotation states no size (an XML without <size>: 0, 0) is no mismatch.
        compared = (sizes[:, 0] > 0) & (np.asarray(stated) > 0).all(axis=1)
        report["size_mismatches"] = int((np.any(stated != sizes, axis=1) & compared).sum())
    return report


def _box_frames(sizes, stated):
    """(N, 2) `width, height` the boxes are given in: the annotation's stated size where it
    has one (wsol_metadata, ImageNet XML), else the decoded size (0, 0: unreadable)."""
    frames = np.array(sizes, np.int64)
    if stated is not None:
        stated = np.asarray(stated, np.int64).reshape(-1, 2)
        known = (stated > 0).all(axis=1)
        frames[known] = stated[known]
    return frames


def suspect_boxes(source, sizes, boxes):
    """[{"path", "box", "problem", "image_size"}] of the boxes that are empty, not finite or
    stick out of their (readable) image on any side (`annotations.box_problem`)."""
    found = []
    for i, image_boxes in enumerate(boxes):
        width, height = (int(v) for v in sizes[i])
        for box in image_boxes:
            if width > 0:
                problem = box_problem(box, width, height)
            else:  # unreadable: only what needs no size
                problem = box_problem(box, float("inf"), float("inf"))
            if problem:
                found.append({
                    "path": str(source.image_paths[i]), "box": [float(v) for v in box],
                    "problem": problem, "image_size": [width, height] if width else None,
                })  # fmt: skip
    return found


def duplicate_files(source):
    """Paths listed more than once in the split (the same image under two ids)."""
    if hasattr(source, "as_dataset"):
        return []
    counts = collections.Counter(str(p) for p in source.image_paths)
    return sorted(path for path, count in counts.items() if count > 1)


# Splits a class must have images in: a class missing from them is never learnt (a test or
# val subset may lack classes by design, e.g. 1,300 ImageNet images of 1,000 classes).
SPLITS_NEEDING_EVERY_CLASS = ("train",)


def problems(report, split=None):
    """How many things in a split's report need a look (exit status 1 of `check`); an empty
    split counts as one, and so does each class without an image in a training split."""
    empty = int(report["images"] == 0)
    missing = len(report.get("classes_without_images", [])) if report["images"] else 0
    return (
        empty
        + report["unreadable"]
        + len(report["suspect_boxes"])
        + len(report["duplicate_files"])
        + (missing if split in SPLITS_NEEDING_EVERY_CLASS else 0)
    )


def format_report(split, r):
    if r["images"] == 0:
        return f"[{split}] {r['source']}\n  images 0: the split is empty"
    missing = r.get("classes_without_images", [])
    lines = [
        f"[{split}] {r['source']}",
        f"  images {r['images']}, classes {r['classes']} ({r['classes_present']} present, "
        f"{r['images_per_class'][0]}..{r['images_per_class'][1]} images per class)",
        f"  boxes {r['boxes']} ({r['boxes_per_image'][0]}..{r['boxes_per_image'][1]} per image, "
        f"{r['images_without_box']} images without a box)",
    ]
    if r.get("box_area_fraction"):
        lo, med, hi = r["box_area_fraction"]
        lines.append(
            f"  box mean {r['box_width_mean']:.1f} x {r['box_height_mean']:.1f} px, area / image "
            f"min {lo:.3f} median {med:.3f} max {hi:.3f}; empty {r['empty_boxes']}, "
            f"outside the image {r['boxes_outside_image']}"
        )
    if "size_mismatches" in r:
        lines.append(f"  images whose size differs from the annotation: {r['size_mismatches']}")
    if missing:
        why = (
            "a problem: the model never sees them"
            if split in SPLITS_NEEDING_EVERY_CLASS
            else "not scored on them"
        )
        lines.append(
            f"  classes without an image: {len(missing)} ({why}): {listing(missing, LISTED)}"
        )
    lines.append(f"  unreadable files: {r['unreadable']}")
    lines += [f"    {u['path']}: {u['reason']}" for u in r["unreadable_files"][:LISTED]]
    lines += _more(r["unreadable_files"])
    suspect = r["suspect_boxes"]
    lines.append(f"  boxes empty or outside their image: {len(suspect)}")
    for entry in suspect[:LISTED]:
        size = "x".join(str(v) for v in entry["image_size"]) if entry["image_size"] else "?"
        box = ", ".join(f"{v:g}" for v in entry["box"])
        lines.append(f"    {entry['path']}: box [{box}] {entry['problem']} ({size})")
    lines += _more(suspect)
    if r["duplicate_files"]:
        lines.append(f"  files listed more than once: {len(r['duplicate_files'])}")
        lines += [f"    {path}" for path in r["duplicate_files"][:LISTED]]
        lines += _more(r["duplicate_files"])
    return "\n".join(lines)


def _more(entries):
    return (
        [f"    ... and {len(entries) - LISTED} more (all in --json)"]
        if len(entries) > LISTED
        else []
    )


def check(dataset, data_dir, splits=None, json_path=None, print_fn=print, **options):
    """Scans the splits of a dataset; prints a report; optionally writes per-image JSON.

    Returns:
        {split: report dict}. Raises like `load_split` on a missing file or a
        malformed annotation (naming the file and line).
    """
    require_data_dir(dataset, data_dir)
    splits = splits or datasets.get(dataset).splits_in(data_dir)
    if not splits:
        raise FileNotFoundError(f"--dataset={dataset} --data_dir={data_dir}: no splits found.")
    reports, images = {}, []
    if json_path:  # named now, not after every image is read
        if os.path.isdir(json_path):
            raise NotWritable(f"--json={json_path}: is a folder; give a file name.")
        try:
            check_writable(os.path.dirname(os.path.abspath(json_path)))
        except NotWritable as error:
            raise NotWritable(f"--json={json_path}: {error}") from None
    # Every split's annotations first: a malformed line fails fast, before any decoding.
    sources = {split: load_split(dataset, data_dir, split, **options) for split in splits}
    for split in splits:
        source = sources[split]
        sizes, boxes, labels, unreadable = scan_images(source)
        reports[split] = split_report(source, sizes, boxes, labels, unreadable)
        print_fn(format_report(split, reports[split]))
        if json_path:
            bad = {u["index"] for u in unreadable}
            for i in range(len(source)):
                images.append(
                    {
                        "split": split,
                        "id": str(source.image_ids[i]),
                        "class_index": int(labels[i]),
                        "image_size": None if i in bad else [int(v) for v in sizes[i]],
                        "boxes": [[float(v) for v in b] for b in boxes[i]],
                        "readable": i not in bad,
                    }
                )
    if json_path:
        write_json(json_path, {"dataset": dataset, "data_dir": data_dir, "splits": reports,
                               "images": images}, indent=1)  # fmt: skip
        print_fn(f"wrote {len(images)} image records to {json_path}")
    return reports
