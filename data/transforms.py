"""Geometric transforms applied to an image and its boxes together (TensorFlow ops).

Boxes are `x0, y0, x1, y1` in continuous pixel coordinates (CUB's x + w is the
right edge), shape (M, 4). Every function maps the image and the boxes through
the same operation, so a box keeps framing the same object.
"""

import tensorflow as tf


def _xyxy_scale(sx, sy):
    return tf.stack([sx, sy, sx, sy])


def resize_with_boxes(image, boxes, size_hw):
    """Resizes image (H, W, 3) to size_hw = (h, w) and scales boxes (M, 4) to match."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    h, w = size_hw
    image = tf.image.resize(image, (h, w), method="bilinear")
    scale = _xyxy_scale(tf.cast(w, tf.float32) / shape[1], tf.cast(h, tf.float32) / shape[0])
    return image, boxes * scale


def crop_with_boxes(image, boxes, offset_yx, size_hw):
    """Crops image at offset (y, x) to size (h, w); shifts boxes and clips them to the crop."""
    oy, ox = offset_yx
    h, w = size_hw
    image = tf.image.crop_to_bounding_box(image, oy, ox, h, w)
    offset = tf.cast(tf.stack([ox, oy, ox, oy]), tf.float32)
    upper = tf.cast(tf.stack([w, h, w, h]), tf.float32)
    return image, tf.clip_by_value(boxes - offset, 0.0, upper)


def flip_with_boxes(image, boxes):
    """Flips image left-right; box edges map as x -> W - x (x0 and x1 swap roles)."""
    width = tf.cast(tf.shape(image)[1], tf.float32)
    x0, y0, x1, y1 = tf.unstack(boxes, axis=-1)
    return tf.image.flip_left_right(image), tf.stack([width - x1, y0, width - x0, y1], axis=-1)


def center_crop_offset(from_hw, to_hw):
    """Top-left (y, x) of a centered crop of size to_hw inside from_hw."""
    return (from_hw[0] - to_hw[0]) // 2, (from_hw[1] - to_hw[1]) // 2


def train_transform(image, boxes, image_size, resize_size, seed):
    """Tensorpack's training augmentation: resize, random crop, random horizontal flip.

    Args:
        image: (H, W, 3) float32.
        boxes: (M, 4) float32.
        image_size: (h, w) of the network input.
        resize_size: (h, w) the image is resized to before cropping.
        seed: (2,) int tensor for the stateless random draws.
    """
    image, boxes = resize_with_boxes(image, boxes, resize_size)
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    oy = tf.random.stateless_uniform(
        (), seeds[0], minval=0, maxval=resize_size[0] - image_size[0] + 1, dtype=tf.int32
    )
    ox = tf.random.stateless_uniform(
        (), seeds[1], minval=0, maxval=resize_size[1] - image_size[1] + 1, dtype=tf.int32
    )
    image, boxes = crop_with_boxes(image, boxes, (oy, ox), image_size)
    flip = tf.random.stateless_uniform((), seeds[2]) < 0.5
    flipped_image, flipped_boxes = flip_with_boxes(image, boxes)
    image = tf.where(flip, flipped_image, image)
    boxes = tf.where(flip, flipped_boxes, boxes)
    return image, boxes


def eval_transform(image, boxes, image_size, resize_size):
    """Resize to resize_size, then center crop image_size (plain resize when they are equal)."""
    image, boxes = resize_with_boxes(image, boxes, resize_size)
    offset = center_crop_offset(resize_size, image_size)
    return crop_with_boxes(image, boxes, offset, image_size)
