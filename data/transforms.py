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


def boxes_to_image(boxes, frame_wh, image):
    """Scales boxes (M, 4) given in the pixels of a `frame_wh` = (W, H) image (the size an
    annotation states) to `image`'s own size; a frame of zeros (unknown) leaves them as given."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    frame = tf.cast(frame_wh, tf.float32)
    scale = _xyxy_scale(
        tf.math.divide_no_nan(shape[1], frame[0]), tf.math.divide_no_nan(shape[0], frame[1])
    )
    return tf.where(tf.reduce_all(frame > 0), boxes * scale, boxes)


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


def crop_resize_with_boxes(image, boxes, offset_yx, crop_hw, out_hw):
    """Crops (h, w) at (y, x), resizes the crop to out_hw; boxes shifted, clipped, scaled."""
    image, boxes = crop_with_boxes(image, boxes, offset_yx, crop_hw)
    return resize_with_boxes(image, boxes, out_hw)


def sample_resized_crop(height, width, seed, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), attempts=10):
    """The crop window of torchvision's RandomResizedCrop (wsolevaluation's augmentation).

    Up to `attempts` draws of an area fraction in `scale` and a log-uniform aspect
    ratio w/h in `ratio`; the first window that fits is used, else the central
    crop with the aspect ratio clamped to `ratio`. All attempts are drawn at once
    from the stateless `seed`, so the window depends only on the seed.

    Args:
        height, width: scalar int tensors, size of the image.
        seed: (2,) int tensor.

    Returns:
        (y, x, h, w) int32 scalars of the window.
    """
    h_f, w_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    area = h_f * w_f * tf.random.stateless_uniform((attempts,), seeds[0], scale[0], scale[1])
    log_ratio = tf.random.stateless_uniform(
        (attempts,), seeds[1], tf.math.log(float(ratio[0])), tf.math.log(float(ratio[1]))
    )
    aspect = tf.exp(log_ratio)
    # Python's round() is half-to-even, as tf.round.
    w = tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32)
    h = tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32)
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    u = tf.random.stateless_uniform((2,), seeds[2])
    h_pick, w_pick = h[first], w[first]
    y_pick = tf.cast(u[0] * tf.cast(height - h_pick + 1, tf.float32), tf.int32)
    x_pick = tf.cast(u[1] * tf.cast(width - w_pick + 1, tf.float32), tf.int32)
    # Fallback: central crop, aspect ratio clamped to the range.
    in_ratio = w_f / h_f
    w_fb = tf.where(
        in_ratio > ratio[1], tf.cast(tf.round(h_f * ratio[1]), tf.int32), tf.cast(width, tf.int32)
    )
    h_fb = tf.where(
        in_ratio < ratio[0], tf.cast(tf.round(w_f / ratio[0]), tf.int32), tf.cast(height, tf.int32)
    )
    any_fits = tf.reduce_any(fits)
    h_out = tf.where(any_fits, h_pick, h_fb)
    w_out = tf.where(any_fits, w_pick, w_fb)
    y_out = tf.where(any_fits, y_pick, (height - h_fb) // 2)
    x_out = tf.where(any_fits, x_pick, (width - w_fb) // 2)
    return tf.minimum(y_out, height - h_out), tf.minimum(x_out, width - w_out), h_out, w_out


def random_resized_crop_transform(image, boxes, image_size, seed):
    """wsolevaluation's training augmentation: RandomResizedCrop(image_size) + random flip.

    Args:
        image: (H, W, 3) float32.
        boxes: (M, 4) float32.
        image_size: (h, w) of the network input.
        seed: (2,) int tensor for the stateless random draws.
    """
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    shape = tf.shape(image)
    y, x, h, w = sample_resized_crop(shape[0], shape[1], crop_seed)
    image, boxes = crop_resize_with_boxes(image, boxes, (y, x), (h, w), image_size)
    flip = tf.random.stateless_uniform((), flip_seed) < 0.5
    flipped_image, flipped_boxes = flip_with_boxes(image, boxes)
    return tf.where(flip, flipped_image, image), tf.where(flip, flipped_boxes, boxes)
