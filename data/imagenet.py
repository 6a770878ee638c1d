"""ImageNet (ILSVRC 2012) folders: class folders for training, XML or CSV boxes for validation.

    <data_dir>/
      LOC_synset_mapping.txt   optional: "<wnid> <names>" per line; class index = line order
      train/<wnid>/*.JPEG      training images, one folder per class
      val/*.JPEG               validation images (flat, or in <wnid>/ subfolders)
      bbox_val/*.xml           per-image ILSVRC XML (ILSVRC2012_bbox_val_v3), or
      LOC_val_solution.csv     Kaggle's "ImageId,PredictionString" with
                               "<wnid> x0 y0 x1 y1" repeated per object

Class indices follow LOC_synset_mapping.txt when present (the order of the
original 1000-class list), else the sorted wnids of train/. Validation keeps
every object's box (x0, y0, x1, y1 in original-image pixels, as the XML states
them and as wsolevaluation's metadata copies them); the image's label is the
class of its objects (ILSVRC has one class per validation image). Where the objects are
of several classes, the label is the first object's class and only that class's boxes
are kept: GT-known localization scores the labelled class's boxes, not another's.
Training images have no boxes (num_boxes 0). Every image file is kept
(.jpg/.jpeg/.png/.bmp/.gif/.webp in any case, as for `folder`; `a.JPEG` and `a.png` are two
images); a validation image finds its annotation by name stem, so two validation images with
one stem are refused, naming both. Whole numbers in the XML may be
written as `500.0`. No path is read from an annotation file (the XML's <filename>, the CSV's
ImageId are never joined to a folder): images are found by listing train/ and val/, so
`annotations.refuse_paths_outside` has nothing to check here.
"""

import csv
import math
import os
import xml.etree.ElementTree as ET

import numpy as np

from wsol_tf.data.annotations import line_error, numbered_lines, parse_box
from wsol_tf.data.dataset import DATASETS, Dataset
from wsol_tf.data.folder import IMAGE_EXTENSIONS as FOLDER_IMAGE_EXTENSIONS
from wsol_tf.data.records import Records, pad_boxes

SPLITS = ("train", "val")
MAPPING = "LOC_synset_mapping.txt"
SOLUTION = "LOC_val_solution.csv"
# Every format the decoder reads, as for --dataset=folder and localize: a BMP, GIF or WebP
# image was left out of the split without a word (a val image with its annotation too).
IMAGE_EXTENSIONS = FOLDER_IMAGE_EXTENSIONS


def read_synset_mapping(path):
    """wnids in file order from LOC_synset_mapping.txt ("n01440764 tench, Tinca tinca")."""
    wnids, names = [], []
    for line_number, line in numbered_lines(path):
        wnid, _, name = line.partition(" ")
        if not (wnid.startswith("n") and wnid[1:].isdigit()):
            raise line_error(path, line_number, line, "expected '<wnid> <names>'")
        if wnid in wnids:
            raise line_error(path, line_number, line, f"duplicate wnid {wnid}")
        wnids.append(wnid)
        names.append(f"{wnid} {name}".strip())
    return wnids, names


def class_list(data_dir):
    """(wnids, class names) from the mapping file, else from the sorted folders of train/."""
    mapping = os.path.join(data_dir, MAPPING)
    if os.path.isfile(mapping):
        return read_synset_mapping(mapping)
    train_dir = os.path.join(data_dir, "train")
    if os.path.isdir(train_dir):
        wnids = sorted(e.name for e in os.scandir(train_dir) if e.is_dir())
        if wnids:
            return wnids, list(wnids)
    raise FileNotFoundError(
        f"ImageNet folder {data_dir}: neither {MAPPING} nor class folders in train/ give the "
        "class order."
    )


def _image_files(folder):
    """Paths of every image under `folder` (recursively), sorted by name stem, then by path;
    files that differ only in extension or subfolder are all kept."""
    found = []
    for root, _, files in os.walk(folder):
        for name in files:
            stem, ext = os.path.splitext(name)
            if ext.lower() in IMAGE_EXTENSIONS:
                path = os.path.join(root, name)
                found.append((stem, os.path.relpath(path, folder), path))
    return [path for _, _, path in sorted(found)]


def _by_stem(paths):
    """{stem: path}: validation annotations are found by name stem, so two images with one stem
    (`a.JPEG` and `a.png`, or `n1/a.JPEG` and `n2/a.JPEG`) are refused, naming both."""
    found = {}
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in found:
            raise ValueError(
                f"{found[stem]} and {path}: two validation images named {stem!r}; their boxes "
                f"and label come from one annotation ({stem}.xml or the {SOLUTION} line "
                f"{stem}), so rename or remove one."
            )
        found[stem] = path
    return found


def _xml_text(node, tag, path):
    child = node.find(tag)
    if child is None or child.text is None:
        raise ValueError(f"{path}: missing <{tag}>.")
    return child.text.strip()


def _xml_int(node, tag, path):
    """A whole number such as a <width>, written `500` or `500.0` (rounded), else a ValueError
    naming the file."""
    text = _xml_text(node, tag, path)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{path}: <{tag}> must be a number >= 0, got {text!r}.")
    return round(value)


def read_ilsvrc_xml(path):
    """(wnids, boxes, (width, height)) of every <object> of one ILSVRC XML file; errors name
    the file."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise ValueError(f"{path}: malformed XML ({error}).") from None
    size = root.find("size")
    width_height = None
    if size is not None:
        width_height = (_xml_int(size, "width", path), _xml_int(size, "height", path))
    wnids, boxes = [], []
    for k, obj in enumerate(root.iter("object")):
        box = obj.find("bndbox")
        if box is None:
            raise ValueError(f"{path}: object {k + 1} has no <bndbox>.")
        values = [_xml_text(box, t, path) for t in ("xmin", "ymin", "xmax", "ymax")]
        boxes.append(parse_box(values, path, f"object {k + 1}", ",".join(values)))
        wnids.append(_xml_text(obj, "name", path))
    return wnids, boxes, width_height


def read_val_solution(path):
    """{image stem: (wnids, boxes)} from LOC_val_solution.csv (a leading byte order mark is
    skipped)."""
    table = {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        for line_number, row in enumerate(csv.reader(f), start=1):
            if not row or (line_number == 1 and row[0] == "ImageId"):
                continue
            line = ",".join(row)
            if len(row) != 2:
                raise line_error(path, line_number, line, "expected 'ImageId,PredictionString'")
            fields = row[1].split()
            if not fields or len(fields) % 5:
                raise line_error(path, line_number, line, "expected '<wnid> x0 y0 x1 y1' groups")
            wnids = fields[0::5]
            boxes = [
                parse_box(fields[k + 1 : k + 5], path, line_number, line)
                for k in range(0, len(fields), 5)
            ]
            if row[0] in table:
                raise line_error(path, line_number, line, f"duplicate image {row[0]}")
            table[row[0]] = (wnids, boxes)
    return table


def load_imagenet(data_dir, split):
    """Reads the "train" or "val" split of an ImageNet folder (layout in the module doc).

    Raises:
        FileNotFoundError naming a missing folder, file or image; ValueError naming
        the file (and line) of a malformed annotation or an unknown wnid.
    """
    if split not in SPLITS:
        raise ValueError(
            f"ImageNet has no split {split!r} (the value of --split or --val_split); valid: "
            f"{', '.join(SPLITS)}."
        )
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
    wnids, class_names = class_list(data_dir)
    index_of = {w: k for k, w in enumerate(wnids)}
    folder = os.path.join(data_dir, split)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"ImageNet folder {data_dir}: missing {split}/ ({folder}).")
    if split == "train":
        return _load_train(data_dir, folder, index_of, class_names)
    return _load_val(data_dir, folder, index_of, class_names)


def _load_train(data_dir, folder, index_of, class_names):
    paths, labels = [], []
    for wnid in sorted(e.name for e in os.scandir(folder) if e.is_dir()):
        if wnid not in index_of:
            raise ValueError(f"{folder}/{wnid}: class folder not in {MAPPING}.")
        for path in _image_files(os.path.join(folder, wnid)):
            paths.append(path)
            labels.append(index_of[wnid])
    if not paths:
        raise FileNotFoundError(f"{folder}: no images in <wnid>/ class folders.")
    boxes, num_boxes = pad_boxes([[] for _ in paths])
    return Records(
        image_paths=paths,
        labels=np.array(labels, np.int32),
        boxes=boxes,
        num_boxes=num_boxes,
        image_ids=[os.path.relpath(p, data_dir) for p in paths],
        class_names=class_names,
        source=folder,
    )


def _load_val(data_dir, folder, index_of, class_names):
    images = _by_stem(_image_files(folder))
    if not images:
        raise FileNotFoundError(f"{folder}: no validation images.")
    xml_dir = os.path.join(data_dir, "bbox_val")
    solution = os.path.join(data_dir, SOLUTION)
    sizes = None
    if os.path.isdir(xml_dir):
        annotations, sizes = {}, []
        for stem in images:
            xml = os.path.join(xml_dir, stem + ".xml")
            if not os.path.isfile(xml):
                raise FileNotFoundError(f"{xml_dir}: no annotation {stem}.xml for {images[stem]}.")
            wnids, boxes, width_height = read_ilsvrc_xml(xml)
            annotations[stem] = (wnids, boxes, xml)
            sizes.append(width_height or (0, 0))
    elif os.path.isfile(solution):
        table = read_val_solution(solution)
        annotations = {}
        for stem in images:
            if stem not in table:
                raise ValueError(f"{solution}: no line for image {stem} ({images[stem]}).")
            annotations[stem] = (*table[stem], solution)
    else:
        raise FileNotFoundError(
            f"ImageNet folder {data_dir}: validation boxes need bbox_val/*.xml or {SOLUTION}."
        )
    labels, box_lists = [], []
    for stem, (wnids, boxes, where) in annotations.items():
        if not wnids:
            raise ValueError(f"{where}: image {stem} has no object.")
        unknown = [w for w in wnids if w not in index_of]
        if unknown:
            raise ValueError(f"{where}: image {stem}: wnid {unknown[0]} is not a known class.")
        # GT-known localization is of the labelled class: another class's object in the
        # same image is no box for it (IoU with it would count as a hit).
        labels.append(index_of[wnids[0]])
        box_lists.append([box for wnid, box in zip(wnids, boxes, strict=True) if wnid == wnids[0]])
    boxes, num_boxes = pad_boxes(box_lists)
    return Records(
        image_paths=list(images.values()),
        labels=np.array(labels, np.int32),
        boxes=boxes,
        num_boxes=num_boxes,
        image_ids=[os.path.relpath(p, data_dir) for p in images.values()],
        class_names=class_names,
        source=folder,
        image_sizes=None if sizes is None else np.array(sizes, np.int32),
    )


def present_splits(data_dir):
    """The splits whose folder `data_dir` has."""
    return [s for s in SPLITS if os.path.isdir(os.path.join(data_dir, s))]


DATASETS.add(
    "imagenet",
    Dataset(
        load=load_imagenet,
        needs_data_dir=True,
        default_splits=present_splits,
    ),
)
