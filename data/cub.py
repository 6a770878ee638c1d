"""CUB-200-2011 in its original on-disk layout.

    CUB_200_2011/
      images/<NNN.class>/<file>.jpg
      images.txt               <image_id> <relative path>
      image_class_labels.txt   <image_id> <class_id, 1-based>
      bounding_boxes.txt       <image_id> <x> <y> <w> <h>   (original pixels)
      train_test_split.txt     <image_id> <1 = train, 0 = test>
      classes.txt              <class_id> <NNN.class>

Boxes become `x0, y0, x1, y1 = x, y, min(x + w, W - 1), min(y + h, H - 1)` in the original
image's pixels (W x H read from the file's header), as wsolevaluation's CUB metadata writes
them, except that clipping never inverts a box: a box starting past the last column (row),
x > W - 1, keeps `x + w` (`y + h`), so it stays a box outside the image, scored as given with
a warning (`annotations.box_problem`). A file whose header cannot be read keeps `x + w, y + h`
(the decoder reports it later). The text files may start with a UTF-8 byte order mark. Class
ids present in the folder are remapped to 0..K-1 in sorted order, so a subset of classes
(e.g. 001-010) trains a K-way classifier.

Held-out validation: with `val_per_class=N`, split "val" holds N images of each
class drawn from the official train split with a fixed seed, and split "train"
returns the rest, so hyperparameters can be chosen without touching test.
"""

import os

import numpy as np

from wsol_tf.data.annotations import finite_in_float32, refuse_paths_outside
from wsol_tf.data.dataset import DATASETS, Dataset
from wsol_tf.data.records import Records, pad_boxes
from wsol_tf.data.sizes import image_size_hw

SPLITS = ("train", "val", "test")
_FILES = (
    "images.txt",
    "image_class_labels.txt",
    "bounding_boxes.txt",
    "train_test_split.txt",
    "classes.txt",
)


def _read_table(path, num_fields, convert, line_numbers=None):
    """Reads `<id> <fields...>` lines into {id: converted fields}, naming file and line on error.

    `line_numbers`, a dict, receives {id: line number} for later messages."""
    table = {}
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for line_number, line in enumerate(f, start=1):
            # One field after the id is the rest of the line: an image path or class name
            # may hold spaces (CUB's own do not; a dataset in its layout may).
            parts = line.split(None, 1) if num_fields == 1 else line.split()
            parts = [part.strip() for part in parts]
            if not parts:
                continue
            if len(parts) != num_fields + 1:
                raise ValueError(
                    f"{path}:{line_number}: expected {num_fields + 1} fields, got "
                    f"{len(parts)}: {line.strip()!r}"
                )
            try:
                key = int(parts[0])
                value = convert(parts[1:])
            except ValueError as error:
                raise ValueError(
                    f"{path}:{line_number}: cannot parse {line.strip()!r} ({error})"
                ) from None
            if key in table:
                raise ValueError(f"{path}:{line_number}: duplicate id {key}")
            table[key] = value
            if line_numbers is not None:
                line_numbers[key] = line_number
    return table


def _box_values(fields):
    values = [float(v) for v in fields]
    x, y, w, h = values
    if not finite_in_float32([*values, x + w, y + h]):  # stored as float32: 1e39 would be inf
        raise ValueError("coordinates (and x + w, y + h) must be finite, at most 3.4e38: float32")
    return values


def _split_flag(fields):
    value = int(fields[0])
    if value not in (0, 1):
        raise ValueError("is_training_image must be 0 or 1")
    return value


def corner_box(x, y, w, h, size_hw):
    """`x, y, x1, y1` of a CUB `x y w h` box in an image of `size_hw` = (H, W) (None: unknown).

    x1 = min(x + w, W - 1) and y1 = min(y + h, H - 1), as wsolevaluation's CUB metadata, on each
    axis only where that keeps x1 >= x (y1 >= y): a box starting past the last column (row)
    keeps x + w (y + h) rather than becoming inverted. E.g. in a 14 x 10 (W x H) image,
    (1, 2, 20, 20) -> [1, 2, 13, 9] and (500, 3, 2, 2) -> [500, 3, 502, 5].
    """
    x1, y1 = x + w, y + h
    if size_hw is not None:
        x1 = _clip_end(x, x1, size_hw[1] - 1)
        y1 = _clip_end(y, y1, size_hw[0] - 1)
    return [x, y, x1, y1]


def _clip_end(start, end, last):
    """min(end, last), unless that falls before `start` (the box starts past `last`)."""
    clipped = min(end, last)
    return clipped if clipped >= start else end


def load_cub(data_dir, split, val_per_class=0, val_seed=0, follow_outside_links=False):
    """Reads one split of a CUB-layout folder.

    Args:
        data_dir: the folder holding images/ and the five annotation files.
        split: "train" or "test" (the official split), or "val" (needs
            val_per_class > 0).
        val_per_class: images per class moved from train to a held-out "val"
            split (0: no val split; train is the whole official train split).
        val_seed: seed of that draw; the same seed gives the same val split.
        follow_outside_links: read images through symbolic links inside images/ that lead
            out of it (refused by default, as images.txt paths that leave it always are;
            `annotations.refuse_paths_outside`).

    Returns:
        `Records` with boxes in original-image pixels, `x0, y0, x1, y1`.

    Raises:
        FileNotFoundError naming the missing file; ValueError naming the file and
        line of a malformed annotation or of an image path leading out of images/.
    """
    if split not in SPLITS:
        raise ValueError(
            f"CUB has no split {split!r} (the value of --split or --val_split); valid: "
            f"{', '.join(SPLITS)}."
        )
    if val_per_class < 0:
        raise ValueError(f"val_per_class={val_per_class} must be >= 0.")
    if split == "val" and val_per_class == 0:
        raise ValueError("CUB split='val' needs val_per_class > 0 (--val_per_class).")
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
    for name in _FILES:
        path = os.path.join(data_dir, name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"CUB folder {data_dir}: missing {name} ({path}).")

    def file(name):
        return os.path.join(data_dir, name)

    label_lines, box_lines, path_lines = {}, {}, {}
    paths = _read_table(file("images.txt"), 1, lambda f: f[0], line_numbers=path_lines)
    if not paths:  # named here, not later as a batch larger than an empty split
        raise ValueError(f"{file('images.txt')}: lists no image.")
    # Every line, whatever its split: no image of the file is read from outside images/.
    refuse_paths_outside(
        file("images"),
        ((file("images.txt"), path_lines[i], paths[i]) for i in sorted(paths)),
        follow_outside_links,
        "image path",
    )
    class_of = _read_table(
        file("image_class_labels.txt"), 1, lambda f: int(f[0]), line_numbers=label_lines
    )
    xywh = _read_table(file("bounding_boxes.txt"), 4, _box_values, line_numbers=box_lines)
    is_train = _read_table(file("train_test_split.txt"), 1, _split_flag)
    class_lines = {}
    class_dirs = _read_table(file("classes.txt"), 1, lambda f: f[0], line_numbers=class_lines)
    _refuse_repeated_names(class_dirs, class_lines, file("classes.txt"))

    for name, table in [
        ("image_class_labels.txt", class_of),
        ("bounding_boxes.txt", xywh),
        ("train_test_split.txt", is_train),
    ]:
        missing = sorted(set(paths) - set(table))
        if missing:
            raise ValueError(f"{file(name)}: no entry for image id {missing[0]} of images.txt.")

    unlisted = [i for i in sorted(paths) if class_of[i] not in class_dirs]
    if unlisted:
        i = unlisted[0]
        raise ValueError(
            f"{file('image_class_labels.txt')}:{label_lines[i]}: image id {i} has class id "
            f"{class_of[i]}, which {file('classes.txt')} does not list "
            f"(it lists {len(class_dirs)} classes)."
        )
    present_classes = sorted(set(class_of[i] for i in paths))
    class_index = {c: k for k, c in enumerate(present_classes)}

    wanted = 0 if split == "test" else 1
    image_ids = [i for i in sorted(paths) if is_train[i] == wanted]
    if split != "test" and val_per_class > 0:
        val_ids = held_out_ids(image_ids, class_of, val_per_class, val_seed, file("images.txt"))
        keep = val_ids if split == "val" else set(image_ids) - val_ids
        image_ids = [i for i in image_ids if i in keep]
    image_paths = [os.path.join(data_dir, "images", paths[i]) for i in image_ids]
    for i, path in zip(image_ids, image_paths, strict=True):
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{file('images.txt')}:{path_lines[i]}: image id {i}: no file {path}."
            )
    box_lists = []
    for i, path in zip(image_ids, image_paths, strict=True):
        x, y, w, h = xywh[i]
        if w < 0 or h < 0:
            raise ValueError(
                f"{file('bounding_boxes.txt')}:{box_lines[i]}: image id {i}: inverted box "
                f"(width {w:g}, height {h:g}; need x y w h with w, h >= 0)."
            )
        box_lists.append([corner_box(x, y, w, h, image_size_hw(path))])
    boxes, num_boxes = pad_boxes(box_lists)
    return Records(
        image_paths=image_paths,
        labels=np.array([class_index[class_of[i]] for i in image_ids], np.int32),
        boxes=boxes,
        num_boxes=num_boxes,
        image_ids=image_ids,
        class_names=[class_dirs[c] for c in present_classes],
        source=data_dir if split != "val" else f"{data_dir} (val: {val_per_class}/class)",
        data_dir=data_dir,
    )


def _refuse_repeated_names(class_dirs, class_lines, where):
    """Two class ids with one name: runs keep classes by name (classes.json, evaluate's
    check), so which class a name means would be ambiguous."""
    first = {}
    for class_id in sorted(class_dirs, key=class_lines.get):
        name = class_dirs[class_id]
        if name in first:
            raise ValueError(
                f"{where}:{class_lines[class_id]}: class id {class_id} is named {name!r}, "
                f"as class id {first[name]} (line {class_lines[first[name]]}): names must differ."
            )
        first[name] = class_id


def held_out_ids(train_ids, class_of, per_class, seed, where):
    """`per_class` ids of each class drawn from `train_ids` with `seed` (independent of order)."""
    rng = np.random.default_rng(seed)
    chosen = set()
    for c in sorted(set(class_of[i] for i in train_ids)):
        ids = sorted(i for i in train_ids if class_of[i] == c)
        if len(ids) <= per_class:
            raise ValueError(
                f"{where}: class {c} has {len(ids)} training images; val_per_class={per_class} "
                "would leave none for training."
            )
        chosen.update(ids[k] for k in rng.permutation(len(ids))[:per_class])
    return chosen


DATASETS.add(
    "cub",
    Dataset(
        load=load_cub,
        options=("val_per_class", "val_seed", "follow_outside_links"),
        needs_data_dir=True,
    ),
)
