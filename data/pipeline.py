"""tf.data input pipeline: Records -> batches of images, labels and boxes.

Each element is a dict:
    image      (h, w, 3) float32 RGB in [0, 255] (models normalize inside)
    label      () int32
    boxes      (M, 4) float32 GT boxes in network-input pixels, zero-padded
    num_boxes  () int32
    index      () int32 row of the image in its Records (for ids, paths, pictures)

Random augmentation uses stateless ops seeded by (seed, epoch, index), so an
epoch's batches depend only on those three numbers: reruns and resumed runs
see the same data.
"""

import tensorflow as tf

from wsol_tf.data import transforms


def as_hw(size):
    """An int or (h, w) pair as an (h, w) tuple of ints."""
    if isinstance(size, int):
        return (size, size)
    h, w = size
    return (int(h), int(w))


def default_resize_size(image_size, ratio=256 / 224):
    """Tensorpack resizes to 256 before cropping 224; keep that ratio at other sizes."""
    h, w = as_hw(image_size)
    return (int(round(h * ratio)), int(round(w * ratio)))


def decode_image(path):
    """Reads an image file as (H, W, 3) float32 RGB; JPEG, PNG, GIF or BMP, gray or colour."""
    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return tf.cast(image, tf.float32)


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
):
    """Builds the tf.data pipeline of one epoch.

    Args:
        records: `wsol_tf.data.records.Records` of the split.
        training: True for augmentation (resize, random crop, flip); False for
            resize + center crop (a plain resize when resize_size == image_size).
        image_size: int or (h, w) of the network input.
        batch_size: global batch size; divided among replicas when an
            `input_context` is given.
        resize_size: (h, w) before cropping; defaults to image_size * 256 / 224.
        seed: int seed of shuffling and augmentation.
        epoch: epoch number, mixed into the seeds so each epoch differs.
        input_context: `tf.distribute.InputContext` from
            `distribute_datasets_from_function`: shards by input pipeline and
            returns per-replica batches.
        drop_remainder: defaults to `training`.
        shuffle: defaults to `training`.

    Returns:
        A batched, prefetched `tf.data.Dataset` of element dicts.
    """
    image_size = as_hw(image_size)
    resize_size = as_hw(resize_size) if resize_size is not None else default_resize_size(image_size)
    if resize_size[0] < image_size[0] or resize_size[1] < image_size[1]:
        raise ValueError(f"resize_size={resize_size} must be at least image_size={image_size}.")
    drop_remainder = training if drop_remainder is None else drop_remainder
    shuffle = training if shuffle is None else shuffle

    indices = tf.range(len(records), dtype=tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices(
        {
            "path": tf.constant(records.image_paths),
            "label": tf.constant(records.labels, tf.int32),
            "boxes": tf.constant(records.boxes, tf.float32),
            "num_boxes": tf.constant(records.num_boxes, tf.int32),
            "index": indices,
        }
    )
    if input_context is not None and input_context.num_input_pipelines > 1:
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        dataset = dataset.shuffle(
            len(records), seed=seed * 1_000_003 + epoch, reshuffle_each_iteration=False
        )

    def load(example):
        image = decode_image(example["path"])
        boxes = example["boxes"]
        if training:
            element_seed = tf.stack(
                [tf.cast(seed, tf.int64) * 4099 + epoch, tf.cast(example["index"], tf.int64)]
            )
            image, boxes = transforms.train_transform(
                image, boxes, image_size, resize_size, element_seed
            )
        else:
            image, boxes = transforms.eval_transform(image, boxes, image_size, resize_size)
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

    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    per_replica_batch = (
        input_context.get_per_replica_batch_size(batch_size) if input_context else batch_size
    )
    dataset = dataset.batch(per_replica_batch, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)
