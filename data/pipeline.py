"""tf.data input pipeline: a split (files or tfds) -> batches of images, labels and boxes.

Each element is a dict:
    image      (h, w, 3) float32 RGB in [0, 255] (models normalize inside)
    label      () int32
    boxes      (M, 4) float32 GT boxes in network-input pixels, zero-padded
    num_boxes  () int32
    index      () int32 row of the image in its Records (for ids, paths, pictures)

Random augmentation uses stateless ops seeded by (seed, epoch, index), so an
epoch's batches depend only on those three numbers: reruns and resumed runs
see the same data, whatever the parallelism.

Preprocessing (flags with defaults; the two references differ):
    train_augment="crop_flip"            resize to resize_size (256 at 224) -> random crop
                                         image_size -> random horizontal flip (Tensorpack ADL)
    train_augment="random_resized_crop"  torchvision's RandomResizedCrop(image_size, scale
                                         (0.08, 1), ratio (3/4, 4/3)) -> flip (wsolevaluation)
    eval_resize="crop"                   resize to resize_size -> center crop image_size
                                         (Tensorpack ADL)
    eval_resize="resize"                 resize to image_size, no crop (wsolevaluation)
Boxes go through the same geometry and are clipped to the image; every box of
an image is kept (padded to M, with its count). Boxes of records with `image_sizes` are
first scaled from that stated size to the decoded image's, as the evaluation does.

Speed: files are read and decoded in parallel (interleave over one-element
pipelines, see `decode.py`), transforms run in a parallel map, batches are
prefetched; `cache` keeps the files' bytes after the first pass, and
`deterministic=False` lets parallel work finish out of order (the content of
each element is unchanged, only the order varies).
"""

import contextlib

import numpy as np
import tensorflow as tf

from wsol_tf.data import transforms
from wsol_tf.data.decode import (
    SkipLog,
    decode_image,
    keep_readable,
    path_bytes,
    try_decode,
    try_read,
)
from wsol_tf.data.sizes import as_hw, default_resize_size

__all__ = ["SKIP_LOG", "decode_image", "make_dataset", "SkipLog", "skip_log_scope"]

TRAIN_AUGMENTS = ("crop_flip", "random_resized_crop")
EVAL_RESIZES = ("crop", "resize")
# Where skipped (unreadable) images are recorded when the caller passes no SkipLog and no
# `skip_log_scope` is open.
SKIP_LOG = SkipLog()
_SCOPES = []


@contextlib.contextmanager
def skip_log_scope():
    """A fresh `SkipLog` for the datasets made inside the block (one evaluation, one run),
    so a count never includes the skips of earlier work in the same process.

    Example:
        with skip_log_scope() as log:
            ...  # make_dataset(...) here records into `log`
        log.to_json()
    """
    log = SkipLog()
    _SCOPES.append(log)
    try:
        yield log
    finally:
        _SCOPES.remove(log)


def current_skip_log():
    """The innermost open scope's log, else the module's `SKIP_LOG`."""
    return _SCOPES[-1] if _SCOPES else SKIP_LOG


def _is_file_source(records):
    return not hasattr(records, "as_dataset")


def _file_elements(records, *, shuffle, seed, epoch, input_context, cache, deterministic, log):
    """Decoded uint8 elements of a `Records` split; unreadable files filtered and logged."""
    dataset = tf.data.Dataset.from_tensor_slices(
        {
            "path": tf.constant([path_bytes(p) for p in records.image_paths]),
            "label": tf.constant(records.labels, tf.int32),
            "boxes": tf.constant(records.boxes, tf.float32),
            "num_boxes": tf.constant(records.num_boxes, tf.int32),
            "index": tf.range(len(records), dtype=tf.int32),
        }
    )
    if input_context is not None and input_context.num_input_pipelines > 1:
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": deterministic}
    if cache is not None:
        # The bytes are cached in the split's own order, so later shuffles still differ.
        dataset = dataset.interleave(try_read, cycle_length=16, block_length=1, **parallel)
        dataset = dataset.filter(keep_readable(log))
        dataset = dataset.map(lambda e: {k: v for k, v in e.items() if k != "ok"})
        dataset = dataset.cache("" if cache == "memory" else cache)
    if shuffle:
        dataset = dataset.shuffle(
            len(records), seed=seed * 1_000_003 + epoch, reshuffle_each_iteration=False
        )
    dataset = dataset.interleave(try_decode, cycle_length=16, block_length=1, **parallel)
    return dataset.filter(keep_readable(log))


def make_dataset(
    records,
    *,
    training,
    image_size,
    batch_size,
    resize_size=None,
    seed=0,
    epoch=0,
    input_context=None,
    drop_remainder=None,
    shuffle=None,
    train_augment="crop_flip",
    eval_resize="crop",
    cache=None,
    deterministic=True,
    skip_log=None,
):
    """Builds the tf.data pipeline of one epoch.

    Args:
        records: `wsol_tf.data.records.Records` (image files) or a source with
            `as_dataset(shuffle, seed, epoch, input_context)` yielding decoded
            images (`wsol_tf.data.tfds_sources.TfdsSource`).
        training: True for augmentation (`train_augment`); False for the
            deterministic `eval_resize`.
        image_size: int or (h, w) of the network input.
        batch_size: global batch size; divided among replicas when an
            `input_context` is given.
        resize_size: (h, w) before cropping ("crop_flip", "crop"); defaults to
            image_size * 256 / 224.
        seed: int seed of shuffling and augmentation.
        epoch: epoch number, mixed into the seeds so each epoch differs.
        input_context: `tf.distribute.InputContext` from
            `distribute_datasets_from_function`: shards by input pipeline and
            returns per-replica batches.
        drop_remainder: defaults to `training`.
        shuffle: defaults to `training`.
        train_augment: "crop_flip" (default, Tensorpack) or "random_resized_crop"
            (wsolevaluation).
        eval_resize: "crop" (default, Tensorpack: resize_size then center crop)
            or "resize" (wsolevaluation: straight to image_size).
        cache: None (default), "memory", or a file path prefix: keeps the
            files' bytes after the first pass (file sources only; a file cache
            persists across epochs and runs).
        deterministic: True (default) keeps the order fixed by (seed, epoch);
            False allows out-of-order parallel work (faster, same contents).
        skip_log: a `SkipLog` recording unreadable images; default the innermost
            `skip_log_scope`'s, else the module's `SKIP_LOG`.

    Returns:
        A batched, prefetched `tf.data.Dataset` of element dicts.
    """
    image_size = as_hw(image_size)
    resize_size = as_hw(resize_size) if resize_size is not None else default_resize_size(image_size)
    if resize_size[0] < image_size[0] or resize_size[1] < image_size[1]:
        raise ValueError(f"resize_size={resize_size} must be at least image_size={image_size}.")
    if train_augment not in TRAIN_AUGMENTS:
        raise ValueError(f"train_augment={train_augment!r}: valid: {', '.join(TRAIN_AUGMENTS)}.")
    if eval_resize not in EVAL_RESIZES:
        raise ValueError(f"eval_resize={eval_resize!r}: valid: {', '.join(EVAL_RESIZES)}.")
    drop_remainder = training if drop_remainder is None else drop_remainder
    shuffle = training if shuffle is None else shuffle
    log = current_skip_log() if skip_log is None else skip_log

    if _is_file_source(records):
        dataset = _file_elements(
            records,
            shuffle=shuffle,
            seed=seed,
            epoch=epoch,
            input_context=input_context,
            cache=cache,
            deterministic=deterministic,
            log=log,
        )
    else:
        if cache is not None:
            raise ValueError(f"cache={cache!r} is for file sources; tfds caches by itself.")
        dataset = records.as_dataset(
            shuffle=shuffle, seed=seed, epoch=epoch, input_context=input_context
        )

    # The (W, H) each row's boxes are given in, when its annotation states one (else 0, 0).
    stated = getattr(records, "image_sizes", None) if _is_file_source(records) else None
    frames = None if stated is None else tf.constant(np.asarray(stated), tf.float32)

    def load(example):
        image = tf.cast(example["image"], tf.float32)
        boxes = tf.cast(example["boxes"], tf.float32)
        if frames is not None:
            frame = tf.gather(frames, example["index"])
            boxes = transforms.boxes_to_image(boxes, frame, image)
        if training:
            element_seed = tf.stack(
                [tf.cast(seed, tf.int64) * 4099 + epoch, tf.cast(example["index"], tf.int64)]
            )
            if train_augment == "crop_flip":
                image, boxes = transforms.train_transform(
                    image, boxes, image_size, resize_size, element_seed
                )
            else:
                image, boxes = transforms.random_resized_crop_transform(
                    image, boxes, image_size, element_seed
                )
        elif eval_resize == "crop":
            image, boxes = transforms.eval_transform(image, boxes, image_size, resize_size)
        else:
            image, boxes = transforms.resize_with_boxes(image, boxes, image_size)
        # Padding rows stay zero whatever the transform did to them.
        valid = tf.range(tf.shape(boxes)[0]) < example["num_boxes"]
        boxes = tf.where(valid[:, None], boxes, tf.zeros_like(boxes))
        image.set_shape([image_size[0], image_size[1], 3])
        return {
            "image": image,
            "label": example["label"],
            "boxes": boxes,
            "num_boxes": example["num_boxes"],
            "index": example["index"],
        }

    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    per_replica_batch = (
        input_context.get_per_replica_batch_size(batch_size) if input_context else batch_size
    )
    dataset = dataset.batch(per_replica_batch, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)
