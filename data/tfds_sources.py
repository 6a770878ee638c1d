"""Datasets prepared by TensorFlow Datasets (tfds), read from a local tfds data_dir only.

    tfds_cub       caltech_birds2011   one box per image (tfds BBox: normalized ymin, xmin,
                                       ymax, xmax) -> x0, y0, x1, y1 in pixels; the
                                       segmentation_mask is the PxAP mask
    tfds_pets      oxford_iiit_pet     box = tight box of the pet in the segmentation trimap
                                       (values 1 = pet and 3 = its outline; 2 = background);
                                       the trimap is the PxAP mask (outline ignored)
    tfds_imagenet  imagenet2012        no boxes (training); prepared from the manual_dir tars
                                       ILSVRC2012_img_{train,val}.tar when not yet prepared

Nothing is ever downloaded: a dataset that is not prepared under data_dir fails
at once with a message saying where tfds looked and how to prepare it. tfds
yields decoded images rather than files, so a `TfdsSource` hands the pipeline
a tf.data.Dataset of images instead of paths (see `pipeline.make_dataset`).
"""

import dataclasses
import functools
import os

import numpy as np

from wsol_tf.data.dataset import DATASETS, Dataset


@dataclasses.dataclass(frozen=True)
class TfdsDataset:
    """A tfds dataset as we read it: its tfds name, where its boxes come from ("bbox",
    "mask" or "none", see `TfdsSource`), the splits `check` visits and `load_tfds`'s
    options it takes."""

    tfds_name: str
    box_mode: str
    splits: tuple = ("train", "test")
    options: tuple = ()


TFDS = {
    "tfds_cub": TfdsDataset("caltech_birds2011", "bbox"),
    "tfds_pets": TfdsDataset("oxford_iiit_pet", "mask"),
    # Prepared from the ILSVRC tars in manual_dir when it is not yet.
    "tfds_imagenet": TfdsDataset("imagenet2012", "none", ("train", "val"), ("manual_dir",)),
}
# Our split names -> tfds's; any other tfds split string (e.g. "train[:90%]") passes through.
SPLIT_ALIASES = {"val": "validation"}
IMAGENET_TARS = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")
SHUFFLE_BUFFER = 10_000


class _Names:
    """A lazy sequence of "name/split[i]" strings, standing in for file paths and ids."""

    def __init__(self, prefix, n):
        self.prefix, self.n = prefix, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self.n))]
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return f"{self.prefix}[{i % self.n}]"


@dataclasses.dataclass
class TfdsSource:
    """One split of a prepared tfds dataset, with the parts of `Records` the callers read.

    Attributes:
        builder: the `tfds.core.DatasetBuilder`.
        split: the tfds split string.
        box_mode: "bbox" (tfds BBox feature), "mask" (tight box of the pet
            trimap) or "none" (no boxes).
        class_names: name of each class index.
        num_examples: images in the split.
    """

    builder: object
    split: str
    box_mode: str
    class_names: list
    num_examples: int

    def __post_init__(self):
        name = f"tfds:{self.builder.name}/{self.split}"
        self.source = f"{name} ({self.builder.data_dir})"
        self.image_ids = list(range(self.num_examples))
        self.image_paths = _Names(name, self.num_examples)
        self.num_boxes = np.full(self.num_examples, 0 if self.box_mode == "none" else 1, np.int32)
        self.labels = None  # Known only by reading the data.

    def __len__(self):
        return self.num_examples

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def max_boxes(self):
        return 1

    def describe(self, row):
        return self.image_paths[row]

    @property
    def mask_feature(self):
        """The tfds feature holding a GT mask for PxAP, or None.

        See ``wsol_tf.evaluation.gt_masks``.
        """
        if "segmentation_mask" in self.builder.info.features and self.box_mode != "none":
            return "segmentation_mask"
        return None

    def as_dataset(self, *, shuffle, seed, epoch, input_context=None, annotations=False):
        """Elements {image uint8 (H, W, 3), label, boxes (1, 4) pixels, num_boxes, index}.

        The index is the position in the read order: fixed (the split's order)
        without shuffling; with shuffling the files are read in an order drawn
        from (seed, epoch), so an epoch is still reproducible.

        With ``annotations`` (evaluation), elements also carry ``bbox`` (1, 4) the
        tfds box as stored (normalized ymin, xmin, ymax, xmax; "bbox" mode only) and
        ``mask`` (H, W, 1) uint8 (the ``mask_feature``, when there is one).
        """
        import tensorflow as tf
        import tensorflow_datasets as tfds

        read_config = tfds.ReadConfig(
            shuffle_seed=int(seed) * 1_000_003 + int(epoch), try_autocache=False
        )
        dataset = self.builder.as_dataset(
            split=self.split, shuffle_files=shuffle, read_config=read_config
        )
        dataset = dataset.enumerate()
        if input_context is not None and input_context.num_input_pipelines > 1:
            dataset = dataset.shard(
                input_context.num_input_pipelines, input_context.input_pipeline_id
            )
        if shuffle:
            dataset = dataset.shuffle(
                min(SHUFFLE_BUFFER, self.num_examples),
                seed=int(seed) * 1_000_003 + int(epoch),
                reshuffle_each_iteration=False,
            )
        box_mode = self.box_mode
        mask_feature = self.mask_feature if annotations else None

        def convert(index, example):
            image = example["image"]
            if box_mode == "bbox":
                boxes = normalized_yxyx_to_pixels(example["bbox"][None, :], tf.shape(image))
                num_boxes = tf.constant(1, tf.int32)
            elif box_mode == "mask":
                boxes, num_boxes = trimap_box(example["segmentation_mask"])
            else:
                boxes, num_boxes = tf.zeros((1, 4), tf.float32), tf.constant(0, tf.int32)
            if image.shape.rank == 3 and image.shape[-1] == 1:
                image = tf.image.grayscale_to_rgb(image)
            element = {
                "image": image,
                "label": tf.cast(example["label"], tf.int32),
                "boxes": boxes,
                "num_boxes": num_boxes,
                "index": tf.cast(index, tf.int32),
            }
            if annotations and box_mode == "bbox":
                element["bbox"] = tf.reshape(tf.cast(example["bbox"], tf.float32), (1, 4))
            if mask_feature:
                element["mask"] = example[mask_feature]
            return element

        return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def normalized_yxyx_to_pixels(boxes, image_shape):
    """(M, 4) tfds boxes (ymin, xmin, ymax, xmax in [0, 1]) -> (M, 4) x0, y0, x1, y1 pixels."""
    import tensorflow as tf

    h = tf.cast(image_shape[0], tf.float32)
    w = tf.cast(image_shape[1], tf.float32)
    ymin, xmin, ymax, xmax = tf.unstack(tf.cast(boxes, tf.float32), axis=-1)
    return tf.stack([xmin * w, ymin * h, xmax * w, ymax * h], axis=-1)


def trimap_box(mask):
    """Tight (1, 4) pixel box around trimap values 1 (pet) and 3 (outline), and the count.

    Pixel columns c0..c1 and rows r0..r1 map to x0 = c0, x1 = c1 + 1 (edge
    coordinates, as CUB's x + w). An image without pet pixels has no box.
    """
    import tensorflow as tf

    mask = tf.squeeze(tf.cast(mask, tf.int32), -1) if mask.shape.rank == 3 else mask
    pet = tf.logical_or(tf.equal(mask, 1), tf.equal(mask, 3))
    rows = tf.where(tf.reduce_any(pet, axis=1))[:, 0]
    cols = tf.where(tf.reduce_any(pet, axis=0))[:, 0]
    found = tf.size(rows) > 0

    def box():
        y0, y1 = tf.reduce_min(rows), tf.reduce_max(rows) + 1
        x0, x1 = tf.reduce_min(cols), tf.reduce_max(cols) + 1
        return tf.cast(tf.stack([[x0, y0, x1, y1]]), tf.float32)

    boxes = tf.cond(found, box, lambda: tf.zeros((1, 4), tf.float32))
    return boxes, tf.cast(found, tf.int32)


def _not_prepared(name, builder, data_dir, extra=""):
    return FileNotFoundError(
        f"tfds dataset {name!r} is not prepared under {data_dir or '~/tensorflow_datasets'} "
        f"(looked for {builder.data_path}). wsol_tf never downloads: prepare it where "
        f"there is network (`tfds build {name} --data_dir=<dir>`) and copy <dir> here, then "
        f"pass --data_dir=<dir>.{extra}"
    )


def prepared_builder(name, data_dir=None, manual_dir=None):
    """The tfds builder of `name` if its data exists under data_dir; never downloads.

    imagenet2012 cannot be downloaded anyway: when `manual_dir` holds the ILSVRC
    tars, it is prepared from them (local files only, hours for the full set).
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if builder.is_prepared():
        return builder
    if name != "imagenet2012":
        raise _not_prepared(name, builder, data_dir)
    manual_dir = os.path.expanduser(
        manual_dir or os.path.join(builder.data_dir_root, "downloads", "manual")
    )
    present = [t for t in IMAGENET_TARS if os.path.isfile(os.path.join(manual_dir, t))]
    if not present:
        raise _not_prepared(
            name,
            builder,
            data_dir,
            f" To prepare it from the ImageNet tars, put {' and '.join(IMAGENET_TARS)} in "
            f"{manual_dir} (or pass manual_dir).",
        )
    config = tfds.download.DownloadConfig(manual_dir=manual_dir, try_download_gcs=False)
    builder.download_and_prepare(download_config=config)
    return builder


def load_tfds(dataset, data_dir, split, manual_dir=None):
    """A `TfdsSource` for dataset "tfds_cub", "tfds_pets" or "tfds_imagenet".

    Args:
        dataset: one of TFDS.
        data_dir: the tfds data_dir (None: tfds's default ~/tensorflow_datasets).
        split: "train", "test", "val" (= tfds "validation") or any tfds split string.
        manual_dir: (imagenet2012 only) folder of the ILSVRC tars.
    """
    name = TFDS[dataset].tfds_name
    builder = prepared_builder(name, data_dir, manual_dir=manual_dir)
    tfds_split = SPLIT_ALIASES.get(split, split)
    try:
        num_examples = builder.info.splits[tfds_split].num_examples
    except (KeyError, ValueError) as error:
        known = ", ".join(builder.info.splits.keys())
        raise ValueError(
            f"tfds dataset {name}: no split {split!r} (splits: {known}) ({error})."
        ) from None
    return TfdsSource(
        builder=builder,
        split=tfds_split,
        box_mode=TFDS[dataset].box_mode,
        class_names=list(builder.info.features["label"].names),
        num_examples=int(num_examples),
    )


for _name, _spec in TFDS.items():
    DATASETS.add(
        _name,
        Dataset(
            load=functools.partial(load_tfds, _name),
            options=_spec.options,
            default_splits=_spec.splits,
        ),
    )
