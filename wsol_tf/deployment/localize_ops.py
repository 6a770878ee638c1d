"""The one box extraction of deployment: images -> class scores, CAM and box, in TF ops.

`localize_batch` serves both the exported SavedModel (`saved_model.LocalizerModule`) and
`python -m wsol_tf.localize` (`localizer.Localizer`), so the two give the same boxes for the
same image. Each image is resized (bilinear, no crop: the whole image is seen) to the network
input; the top-1 class's map comes from the model's method (`Method.score_maps`) with the
chosen extractor, is upsampled (TF bicubic) and min-max normalised; `component_boxes` cuts it
at the CAM threshold; the box is scaled to the original image, rounded and clipped to it.

A SavedModel cannot call cv2, so the box is computed in TF: the uint8 copy of the normalised
CAM is cut at ``pixel > int(tau * max)`` (the evaluator's rule), the foreground is split into
8-connected components by iterated 3x3 max-pooling of pixel labels, and the component with the
most pixels gives ``(x0, y0, min(x1 + 1, w - 1), min(y1 + 1, h - 1))`` (boundingRect's x + w
convention). This equals ``wsol_tf.evaluation.boxes.box_from_scoremap`` (the evaluator's cv2
rule) except where two components tie or differ in the order of pixel count and contour area
(cv2 ranks contours by polygon area), and the CAM is upsampled with TF's bicubic resize rather
than cv2's, so maps differ from the evaluator's by resampling noise.
"""

import tensorflow as tf

# The one min-max rule (float32, constant or non-finite map -> zeros: no box); without the
# finiteness test an Inf would make the map NaN, whose uint8 cast in `_foreground` is undefined.
from wsol_tf.normalization import normalize_maps


def _foreground(scoremaps, threshold):
    """(B, h, w) bool: the pixels above tau x the map's peak, on the uint8 scale that
    wsolevaluation's cv2 thresholding uses."""
    image = tf.cast(tf.cast(scoremaps * 255.0, tf.uint8), tf.float32)  # truncation like astype
    peak = tf.reduce_max(image, axis=[1, 2], keepdims=True)  # (B, 1, 1)
    level = tf.floor(tf.cast(threshold, tf.float32) * peak)
    return image > level


def box_found(scoremaps, threshold):
    """(B,) bool: whether any pixel is above the threshold, i.e. whether `component_boxes`'
    box is a real one rather than the (0, 0, 0, 0) of an empty or flat map."""
    scoremaps = tf.convert_to_tensor(scoremaps, tf.float32)
    return tf.reduce_any(_foreground(scoremaps, threshold), axis=[1, 2])


def component_boxes(scoremaps, threshold):
    """Box of the largest 8-connected component above the threshold, per map.

    Args:
        scoremaps: (B, h, w) float maps in [0, 1].
        threshold: scalar CAM threshold tau.

    Returns:
        (B, 4) int32 boxes (x0, y0, x1, y1); (0, 0, 0, 0) where nothing is above threshold.
    """
    scoremaps = tf.convert_to_tensor(scoremaps, tf.float32)
    shape = tf.shape(scoremaps)
    batch, height, width = shape[0], shape[1], shape[2]
    foreground = _foreground(scoremaps, threshold)  # (B, h, w)
    # Distinct positive label per foreground pixel; float32 is exact below 2**24 pixels.
    ids = tf.reshape(tf.range(1, height * width + 1, dtype=tf.float32), [1, height, width])
    labels = tf.where(foreground, ids, 0.0)[..., None]  # (B, h, w, 1)
    fg = foreground[..., None]

    def spread(current):
        pooled = tf.nn.max_pool2d(current, ksize=3, strides=1, padding="SAME")
        return tf.where(fg, pooled, 0.0)

    def not_done(previous, current):
        return tf.reduce_any(tf.not_equal(previous, current))

    def step(_, current):
        return current, spread(current)

    _, labels = tf.while_loop(not_done, step, (labels, spread(labels)))
    labels = tf.cast(labels[..., 0], tf.int32)  # (B, h, w), one label per component
    segments = height * width + 1
    offsets = tf.range(batch)[:, None, None] * segments
    sizes = tf.math.unsorted_segment_sum(
        tf.ones([batch * height * width], tf.int32),
        tf.reshape(labels + offsets, [-1]),
        batch * segments,
    )
    sizes = tf.reshape(sizes, [batch, segments])
    sizes = tf.concat([tf.zeros([batch, 1], tf.int32), sizes[:, 1:]], axis=1)  # ignore bg
    largest = tf.cast(tf.argmax(sizes, axis=1), tf.int32)  # (B,)
    mask = tf.equal(labels, largest[:, None, None]) & foreground  # (B, h, w)
    cols = tf.reduce_any(mask, axis=1)  # (B, w)
    rows = tf.reduce_any(mask, axis=2)  # (B, h)

    def extent(hits, size):
        index = tf.range(size)[None, :]
        low = tf.reduce_min(tf.where(hits, index, size), axis=1)
        high = tf.reduce_max(tf.where(hits, index, -1), axis=1)
        return low, tf.minimum(high + 1, size - 1)

    x0, x1 = extent(cols, width)
    y0, y1 = extent(rows, height)
    boxes = tf.stack([x0, y0, x1, y1], axis=1)
    found = tf.reduce_any(mask, axis=[1, 2])
    return tf.where(found[:, None], boxes, tf.zeros_like(boxes))


# Tolerance of the floor/ceil below: 500 / 224 * 224 must give pixel 500, not 501.
_PIXEL_EPS = 1e-3


def boxes_to_original(boxes, input_hw, original_hw):
    """Input-pixel boxes -> the original pixels they cover (inclusive ends), clipped.

    Input pixel x spans [x, x + 1) in continuous coordinates, so a box (x0, x1) spans
    [x0, x1 + 1), which is [x0 * s, (x1 + 1) * s) in the original (s = W / w): its first
    pixel is floor(x0 * s), its last ceil((x1 + 1) * s) - 1. A box over the whole input is
    the whole image, and a box is never empty. (wsolevaluation's GT resize scales x1 itself;
    evaluation keeps that convention, this is only for boxes handed back to a user.)

    Args:
        boxes: (B, 4) boxes (x0, y0, x1, y1) in network-input pixels, ends inclusive.
        input_hw: (h, w) of the network input.
        original_hw: (2,) tensor (H, W) of the original images.

    Returns:
        (B, 4) int32 boxes inside [0, W - 1] x [0, H - 1].
    """
    size = tf.cast(tf.convert_to_tensor(input_hw), tf.float32)
    original = tf.cast(original_hw, tf.float32)
    scale = tf.stack([original[1] / size[1], original[0] / size[0]])  # (2,) x, y
    boxes = tf.cast(boxes, tf.float32)
    starts = tf.floor(boxes[:, :2] * scale + _PIXEL_EPS)
    ends = tf.math.ceil((boxes[:, 2:] + 1.0) * scale - _PIXEL_EPS) - 1.0
    scaled = tf.concat([starts, tf.maximum(ends, starts)], axis=1)
    upper = tf.stack([original[1] - 1, original[0] - 1] * 2)
    return tf.cast(tf.clip_by_value(scaled, 0.0, upper), tf.int32)


def checked_images(images):
    """(images, their (H, W)) after the checks every exported signature runs first: refused
    with a sentence, not TensorFlow's resize error (an empty image) or a box cut from a map
    of NaN scores (a NaN pixel), since the signature is called by other programs."""
    original = tf.shape(images)[1:3]
    checks = [
        tf.debugging.assert_positive(original, message="images must be at least 1 x 1 pixels"),
        tf.debugging.assert_all_finite(images, "images must not hold NaN or Inf"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(images), original


def localize_batch(model, extractor, images, image_size, cam_threshold):
    """images: (B, H, W, 3) float RGB in [0, 255] -> dict of outputs.

    Returns ``scores`` (B, C) softmax, ``classes`` (B,) top-1, ``cam`` (B, h, w) the top-1
    class's normalised CAM at input size, ``box`` (B, 4) int32 in input pixels and
    ``box_original`` (B, 4) int32: the given images' pixels the box covers (clipped), and
    ``box_found`` (B,) bool: False where no pixel is above the threshold (a flat map), whose
    boxes are (0, 0, 0, 0) in input pixels and not a localization.
    """
    image_size = [int(s) for s in image_size]
    images, original = checked_images(images)
    resized = tf.image.resize(images, image_size, method="bilinear")
    logits, cams = model.method.score_maps(model, resized, None, extractor)
    classes = tf.argmax(logits, axis=-1, output_type=tf.int32)  # the maps' classes
    cams = tf.cast(cams, tf.float32)[..., None]
    cams = normalize_maps(tf.image.resize(cams, image_size, method="bicubic")[..., 0])
    boxes = component_boxes(cams, cam_threshold)
    return {
        "scores": tf.nn.softmax(tf.cast(logits, tf.float32)),
        "classes": classes,
        "cam": cams,
        "box": boxes,
        "box_original": boxes_to_original(boxes, image_size, original),
        "box_found": box_found(cams, cam_threshold),
    }
