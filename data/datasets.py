"""Datasets by name: one `Dataset` record each, and `load_split`, the single entry point.

A dataset is one record (`data.dataset.Dataset`), registered in the module that reads it
(`DATASETS.add(name, Dataset(...))`): how a split is loaded, the options it accepts, whether
it needs a folder, which splits `python -m wsol_tf.data check` visits. Every module of this
package except the machinery below (`MACHINERY`) is such a source and is scanned once here,
so adding a dataset is adding its module (see ARCHITECTURE.md, "How to add a dataset"). Each
source module's docstring describes its folder layout, splits and boxes:

    synthetic (synthetic.py; read as cub), cub (cub.py), imagenet (imagenet.py),
    wsol_metadata (wsol_metadata.py), tfds_cub / tfds_pets / tfds_imagenet (tfds_sources.py),
    folder (folder.py)

Masks (for PxAP, see wsol_tf.evaluation.gt_masks): wsol_metadata OpenImages lines, the tfds CUB
segmentations and the pet trimaps; evaluation uses them automatically.

Library code without TensorFlow: flags are checked against these records before it loads, so
a source module imports TensorFlow (or cv2) inside its functions only.
"""

from wsol_tf.data.dataset import DATASETS, Dataset
from wsol_tf.registry import import_submodules

# Modules of this package that read no dataset (not scanned: some import TensorFlow).
MACHINERY = (
    "annotations",
    "check",
    "dataset",
    "datasets",
    "decode",
    "exif",
    "pipeline",
    "records",
    "sizes",
    "transforms",
)
__all__ = ["DATASETS", "Dataset", "get", "load_split", "require_data_dir", "with_option"]


def get(dataset) -> Dataset:
    """The record of `dataset`; ValueError naming --dataset and the valid names."""
    return DATASETS.get(dataset)


def require_data_dir(dataset, data_dir):
    """Raises ValueError naming --data_dir when `dataset` needs a folder and none is given."""
    if get(dataset).needs_data_dir and not data_dir:
        raise ValueError(f"--dataset={dataset} needs --data_dir=<dataset folder>.")


def with_option(option):
    """Names of the datasets that accept `option`."""
    return tuple(name for name, record in DATASETS.items() if option in record.options)


def load_split(dataset, data_dir, split, **options):
    """The images, labels and boxes of `split` of `dataset` (before any image is decoded).

    Args:
        dataset: a name of DATASETS.
        data_dir: the dataset folder; for tfds datasets the tfds data_dir
            (None: tfds's default); for "synthetic" the cache folder.
        split: "train", "test", "val", ... as the dataset has them.
        **options: per-dataset options (the record's `options`): val_per_class (int,
            default 0) and val_seed (int, default 0) for cub/synthetic;
            metadata_dir, image_root and mask_root for wsol_metadata; manual_dir for
            tfds_imagenet; follow_outside_links (bool) for the datasets whose annotation
            files name image paths (cub, wsol_metadata): read them through symbolic links
            that lead out of the dataset folder (`annotations.refuse_paths_outside`).
            Options set to None are ignored.

    Returns:
        `Records` (file sources) or `TfdsSource` (tfds): both have len(),
        num_classes, class_names, num_boxes, image_ids and source, and both
        go to `pipeline.make_dataset`.

    Raises:
        ValueError naming the dataset, option or split; FileNotFoundError
        naming the missing file or folder; ValueError naming the file and line
        of a malformed annotation.
    """
    record = get(dataset)
    options = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(options) - set(record.options))
    if unknown:
        valid = ", ".join(record.options) or "none"
        raise ValueError(f"--dataset={dataset}: unknown option {unknown[0]!r} (valid: {valid}).")
    require_data_dir(dataset, data_dir)
    return record.load(data_dir, split, **options)


import_submodules(__package__, skip=MACHINERY)
