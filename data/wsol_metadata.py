"""wsolevaluation's metadata folders (clovaai/wsolevaluation, `metadata/<DATASET>/<split>/`).

    image_ids.txt      <image_id>                   one line per image; the id is the
                                                    image path relative to the image root
    class_labels.txt   <image_id>,<class index>
    image_sizes.txt    <image_id>,<width>,<height>  (optional)
    localization.txt   <image_id>,<x0>,<y0>,<x1>,<y1>       one line per box (CUB, ImageNet), or
                       <image_id>,<mask path>,<ignore path>  one line per mask (OpenImages, PxAP);
                                                    optional: without it (wsolevaluation's
                                                    OpenImages and ILSVRC train splits) the
                                                    split has labels only (num_boxes 0)

By default the metadata of split S is read from `<data_dir>/wsol_metadata/S`
and images from `<data_dir>/<image_id>`, or `<data_dir>/images/<image_id>` when
that is where the first image lies (the CUB layout); mask paths (OpenImages) are
relative to mask_root, by default that same image root. Class names come from
`LOC_synset_mapping.txt` in data_dir when present (then num_classes is its
length), else they are "class_<k>" for k up to the largest label of any split of
the metadata folder (so every split has the same classes).

Lines of class_labels.txt, image_sizes.txt and localization.txt whose id is not in
image_ids.txt are ignored, as wsolevaluation ignores them (image_ids.txt cut down to
evaluate a subset), with one warning per file that counts them and names the first.
"""

import logging
import os

import numpy as np

from wsol_tf.data.annotations import (
    check_files_exist,
    line_error,
    numbered_lines,
    parse_box,
    refuse_paths_outside,
    require_file,
)
from wsol_tf.data.dataset import DATASETS, Dataset
from wsol_tf.data.imagenet import MAPPING, read_synset_mapping
from wsol_tf.data.records import Records, pad_boxes

logger = logging.getLogger("wsol_tf.data")


def _rows(path, num_fields):
    """(line_number, line, fields) of a comma-separated file with `num_fields` per line."""
    for line_number, line in numbered_lines(path):
        fields = [f.strip() for f in line.split(",")]
        if len(fields) not in num_fields:
            want = " or ".join(str(n) for n in num_fields)
            raise line_error(path, line_number, line, f"expected {want} comma-separated fields")
        yield line_number, line, fields


def _image_root(data_dir, ids, image_root):
    """The folder the image ids are relative to: `image_root`, else data_dir or its images/,
    whichever holds the first listed image found (a missing first image is then named by
    its line, not taken for a wrong root)."""
    if image_root:
        return os.path.abspath(os.path.expanduser(image_root))
    roots = (data_dir, os.path.join(data_dir, "images"))
    for image_id in ids:
        for root in roots:
            if os.path.isfile(os.path.join(root, image_id)):
                return root
    raise FileNotFoundError(
        f"wsol_metadata: no image of image_ids.txt (first: {ids[0]!r}) is in {roots[0]} or in "
        f"{roots[1]}."
    )


def _largest_label_of_other_splits(metadata_dir):
    """The largest class index in any split's class_labels.txt (-1 when none); lines that do
    not parse are left to the loading of their own split to report."""
    largest = -1
    for entry in sorted(os.scandir(metadata_dir), key=lambda e: e.name):
        path = os.path.join(entry.path, "class_labels.txt")
        if not (entry.is_dir() and os.path.isfile(path)):
            continue
        try:
            for _, line in numbered_lines(path):
                label = line.rsplit(",", 1)[-1].strip()
                if label.isdigit():
                    largest = max(largest, int(label))
        except (OSError, UnicodeDecodeError):
            continue
    return largest


def load_wsol_metadata(
    data_dir, split, metadata_dir=None, image_root=None, mask_root=None, follow_outside_links=False
):
    """Reads split `split` of a wsolevaluation metadata folder (layout in the module doc).

    Args:
        data_dir: dataset folder (holding the images and, by default, wsol_metadata/).
        split: subfolder of the metadata folder ("train", "val", "test", ...).
        metadata_dir: the folder holding the split folders; default
            `<data_dir>/wsol_metadata`.
        image_root: folder the image ids are relative to; default found as above.
        mask_root: folder the mask and ignore paths are relative to (wsolevaluation's
            --mask_root); default the image root.
        follow_outside_links: read images and masks through symbolic links inside their
            root that lead out of it (refused by default, as listed paths that leave it
            always are; `annotations.refuse_paths_outside`).

    Returns:
        `Records` with every box of each image (x0, y0, x1, y1, original pixels),
        image_sizes when image_sizes.txt is present, and mask_paths /
        ignore_paths for OpenImages-style localization.

    Raises:
        FileNotFoundError naming a missing file; ValueError naming the file and
        line of a malformed or inconsistent annotation, or of a path leading out of the
        image (mask) root.
    """
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
    metadata_dir = metadata_dir or os.path.join(data_dir, "wsol_metadata")
    folder = os.path.join(metadata_dir, split)
    if not os.path.isdir(folder):
        available = sorted(os.listdir(metadata_dir)) if os.path.isdir(metadata_dir) else []
        raise FileNotFoundError(
            f"wsol_metadata: no split folder {folder} (splits found: {available or 'none'})."
        )

    def file(name):
        return require_file(os.path.join(folder, name), f"wsol_metadata split {split!r}")

    ids, seen, id_lines = [], set(), {}
    for line_number, line in numbered_lines(file("image_ids.txt")):
        if line in seen:
            raise line_error(file("image_ids.txt"), line_number, line, "duplicate image id")
        seen.add(line)
        ids.append(line)
        id_lines[line] = line_number
    if not ids:
        raise ValueError(f"{file('image_ids.txt')}: no image ids.")
    # Before the image root is looked for with the first id: that id may be '/etc/...'.
    listed_ids = [(file("image_ids.txt"), id_lines[i], i) for i in ids]
    refuse_paths_outside(None, listed_ids, what="image path")

    ignored = {}  # file -> [count, (line number, id) of the first] of lines of no listed image

    def ignore(path, line_number, image_id):
        entry = ignored.setdefault(path, [0, (line_number, image_id)])
        entry[0] += 1

    labels, largest_ignored = {}, -1
    for line_number, line, (image_id, label) in _rows(file("class_labels.txt"), (2,)):
        if not label.isdigit():
            raise line_error(file("class_labels.txt"), line_number, line, "label must be >= 0")
        if image_id not in seen:
            ignore(file("class_labels.txt"), line_number, image_id)
            largest_ignored = max(largest_ignored, int(label))  # still a class of the split
            continue
        labels[image_id] = int(label)
    _require_all(ids, labels, file("class_labels.txt"))

    sizes = None
    sizes_path = os.path.join(folder, "image_sizes.txt")
    if os.path.isfile(sizes_path):
        sizes = {}
        for line_number, line, (image_id, width, height) in _rows(sizes_path, (3,)):
            if not (width.isdigit() and height.isdigit() and int(width) and int(height)):
                raise line_error(
                    sizes_path, line_number, line, "width and height must be whole numbers >= 1"
                )
            if image_id not in seen:
                ignore(sizes_path, line_number, image_id)
                continue
            sizes[image_id] = (int(width), int(height))
        _require_all(ids, sizes, sizes_path)

    boxes = {i: [] for i in ids}
    masks, ignores = {i: [] for i in ids}, {i: [] for i in ids}
    has_masks, listed_masks = False, []
    loc_path = os.path.join(folder, "localization.txt")
    # Optional: wsolevaluation's training splits (OpenImages, ILSVRC) have labels only.
    loc_rows = _rows(loc_path, (3, 5)) if os.path.isfile(loc_path) else ()
    for line_number, line, fields in loc_rows:
        image_id = fields[0]
        if image_id not in seen:
            ignore(loc_path, line_number, image_id)
            continue
        if len(fields) == 5:
            box = parse_box(fields[1:], loc_path, line_number, line)
            if sizes is not None:
                width, height = sizes[image_id]
                if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height:
                    raise line_error(loc_path, line_number, line, f"box outside {width}x{height}")
            boxes[image_id].append(box)
        else:
            has_masks = True
            masks[image_id].append(fields[1])
            listed_masks.append((loc_path, line_number, fields[1]))
            if fields[2]:
                ignores[image_id].append(fields[2])
                listed_masks.append((loc_path, line_number, fields[2]))

    for path, (count, (line_number, image_id)) in ignored.items():
        logger.warning(
            "%s: %d line(s) name no image of image_ids.txt (first: line %d, %r): ignored, "
            "as wsolevaluation ignores them",
            path, count, line_number, image_id,
        )  # fmt: skip

    root = _image_root(data_dir, ids, image_root)
    refuse_paths_outside(root, listed_ids, follow_outside_links, "image path")
    # wsolevaluation joins mask paths to its mask_root; ours defaults to the image root.
    mask_base = os.path.abspath(os.path.expanduser(mask_root)) if mask_root else root
    refuse_paths_outside(mask_base, listed_masks, follow_outside_links, "mask path")
    image_paths = [os.path.join(root, i) for i in ids]
    check_files_exist(image_paths, lambda k: f"{file('image_ids.txt')}:{k + 1}")
    box_array, num_boxes = pad_boxes([boxes[i] for i in ids])
    label_array = np.array([labels[i] for i in ids], np.int32)
    mapping = os.path.join(data_dir, MAPPING)
    if os.path.isfile(mapping):
        class_names = read_synset_mapping(mapping)[1]
        largest = max(int(label_array.max()), largest_ignored)
        if largest >= len(class_names):
            raise ValueError(
                f"{file('class_labels.txt')}: label {largest} >= the "
                f"{len(class_names)} classes of {mapping}."
            )
    else:
        # Every split of the folder counts: a split without images of the last class(es) (a
        # small test or val split) must still have the class count the model was trained with.
        largest = max(
            int(label_array.max()), largest_ignored, _largest_label_of_other_splits(metadata_dir)
        )
        class_names = [f"class_{k}" for k in range(largest + 1)]
    return Records(
        image_paths=image_paths,
        labels=label_array,
        boxes=box_array,
        num_boxes=num_boxes,
        image_ids=ids,
        class_names=class_names,
        source=folder,
        image_sizes=None if sizes is None else np.array([sizes[i] for i in ids], np.int32),
        mask_paths=(
            [[os.path.join(mask_base, m) for m in masks[i]] for i in ids] if has_masks else None
        ),
        ignore_paths=(
            [[os.path.join(mask_base, m) for m in ignores[i]] for i in ids] if has_masks else None
        ),
    )


def _require_all(ids, table, path):
    missing = [i for i in ids if i not in table]
    if missing:
        raise ValueError(f"{path}: no line for image id {missing[0]!r} of image_ids.txt.")


def metadata_splits(data_dir):
    """The split folders of `<data_dir>/wsol_metadata` (sorted; none when it is missing)."""
    root = os.path.join(data_dir, "wsol_metadata")
    return sorted(e.name for e in os.scandir(root) if e.is_dir()) if os.path.isdir(root) else []


DATASETS.add(
    "wsol_metadata",
    Dataset(
        load=load_wsol_metadata,
        options=("metadata_dir", "image_root", "mask_root", "follow_outside_links"),
        needs_data_dir=True,
        default_splits=metadata_splits,
    ),
)
