"""Dataset names -> one split, the single entry point for every source (`load_split`).

| name          | data_dir                                   | splits              | boxes       |
|---------------|--------------------------------------------|---------------------|-------------|
| synthetic     | cache folder (None: default), generated    | train, test         | 1 / image   |
| cub           | CUB_200_2011/ (original layout)            | train, val*, test   | 1 / image   |
| imagenet      | train/<wnid>/, val/ + bbox_val/ or CSV     | train, val          | val: all    |
| wsol_metadata | images + wsol_metadata/<split>/            | any metadata folder | all / masks |
| tfds_cub      | tfds data_dir (caltech_birds2011 prepared) | train, test         | 1 + mask    |
| tfds_pets     | tfds data_dir (oxford_iiit_pet prepared)   | train, test         | from mask   |
| tfds_imagenet | tfds data_dir (imagenet2012 / manual_dir)  | train, val          | none        |
| folder        | <class_name>/*.jpg (or <split>/<class>/)   | train (+ subfolders)| none        |

Masks (for PxAP, see wsol_tf.evaluation.gt_masks): wsol_metadata OpenImages lines, the tfds CUB
segmentations and the pet trimaps; evaluation uses them automatically.

*cub "val" exists with val_per_class > 0: N images per class drawn from the
official train split (seed val_seed), and "train" then excludes them.
"""

from wsol_tf.data.cub import load_cub

DATASETS = (
    "synthetic",
    "cub",
    "imagenet",
    "wsol_metadata",
    "tfds_cub",
    "tfds_pets",
    "tfds_imagenet",
    "folder",
)
# The keyword options each dataset accepts (anything else is refused by name).
OPTIONS = {
    "synthetic": ("val_per_class", "val_seed"),
    "cub": ("val_per_class", "val_seed", "follow_outside_links"),
    "imagenet": (),
    "wsol_metadata": ("metadata_dir", "image_root", "mask_root", "follow_outside_links"),
    "tfds_cub": (),
    "tfds_pets": (),
    "tfds_imagenet": ("manual_dir",),
    "folder": (),
}
NEEDS_DATA_DIR = ("cub", "imagenet", "wsol_metadata", "folder")


def require_data_dir(dataset, data_dir):
    """Raises ValueError naming --data_dir when `dataset` needs a folder and none is given."""
    if dataset in NEEDS_DATA_DIR and not data_dir:
        raise ValueError(f"--dataset={dataset} needs --data_dir=<dataset folder>.")


def load_split(dataset, data_dir, split, **options):
    """The images, labels and boxes of `split` of `dataset` (before any image is decoded).

    Args:
        dataset: one of DATASETS (table in the module doc).
        data_dir: the dataset folder; for tfds datasets the tfds data_dir
            (None: tfds's default); for "synthetic" the cache folder.
        split: "train", "test", "val", ... as the dataset has them.
        **options: per-dataset options (see OPTIONS): val_per_class (int,
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
    if dataset not in DATASETS:
        raise ValueError(f"--dataset={dataset!r}: valid datasets: {', '.join(DATASETS)}.")
    options = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(options) - set(OPTIONS[dataset]))
    if unknown:
        valid = ", ".join(OPTIONS[dataset]) or "none"
        raise ValueError(f"--dataset={dataset}: unknown option {unknown[0]!r} (valid: {valid}).")
    require_data_dir(dataset, data_dir)
    if dataset == "synthetic":
        from wsol_tf.data.synthetic import ensure_synthetic

        return load_cub(str(ensure_synthetic(cache_dir=data_dir)), split, **options)
    if dataset == "cub":
        return load_cub(data_dir, split, **options)
    if dataset == "imagenet":
        from wsol_tf.data.imagenet import load_imagenet

        return load_imagenet(data_dir, split)
    if dataset == "wsol_metadata":
        from wsol_tf.data.wsol_metadata import load_wsol_metadata

        return load_wsol_metadata(data_dir, split, **options)
    if dataset == "folder":
        from wsol_tf.data.folder import load_folder

        return load_folder(data_dir, split)
    from wsol_tf.data.tfds_sources import load_tfds

    return load_tfds(dataset, data_dir, split, **options)
