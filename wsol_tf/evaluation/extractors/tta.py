"""Test-time augmentation of any extractor (`--cam_smooth=tta`): its map averaged over
horizontal flips and zooms, each mapped back to the input frame."""

from __future__ import annotations

from wsol_tf.evaluation.extractors.base import minmax, resize_maps, target_classes


def _zoom_axis(x, axis, scaled, size, fill):
    """Crop (scaled >= size) or pad with `fill` (scaled < size) axis `axis` back to `size`,
    centered; returns the tensor."""
    import tensorflow as tf

    if scaled >= size:
        start = (scaled - size) // 2
        return tf.gather(x, tf.range(start, start + size), axis=axis)
    before = (size - scaled) // 2
    paddings = [[0, 0]] * 4
    paddings[axis] = [before, size - scaled - before]
    return tf.pad(x - fill, paddings) + fill


def _unzoom_axis(x, axis, scaled, size):
    """Inverse of `_zoom_axis` on a map in the zoomed frame: (map, coverage) on `scaled`."""
    import tensorflow as tf

    if scaled >= size:
        start = (scaled - size) // 2
        paddings = [[0, 0]] * 3
        paddings[axis] = [start, scaled - size - start]
        return tf.pad(x, paddings)
    before = (size - scaled) // 2
    return tf.gather(x, tf.range(before, before + scaled), axis=axis)


def zoom(images, scale):
    """Images resized by `scale` (bilinear), then center-cropped or padded (with each
    image's mean color) back to their size: the network sees a zoomed-in or -out view."""
    import tensorflow as tf

    height, width = int(images.shape[1]), int(images.shape[2])
    scaled = [max(1, round(scale * height)), max(1, round(scale * width))]
    x = tf.image.resize(images, scaled, method="bilinear")
    fill = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    x = _zoom_axis(x, 1, scaled[0], height, fill)
    return _zoom_axis(x, 2, scaled[1], width, fill)


def unzoom(maps, scale):
    """(maps, coverage) in the input frame from (B, H, W) maps of a `zoom`ed view: the crop
    or padding undone, then resized (bilinear) by 1 / scale. Coverage is 0 where the view
    did not show the image (a zoom-in loses the borders)."""
    import tensorflow as tf

    height, width = int(maps.shape[1]), int(maps.shape[2])
    scaled = [max(1, round(scale * height)), max(1, round(scale * width))]
    seen = tf.ones_like(maps)
    out = []
    for x in (maps, seen):
        x = _unzoom_axis(x, 1, scaled[0], height)
        x = _unzoom_axis(x, 2, scaled[1], width)
        out.append(resize_maps(x, [height, width]))
    return out[0], out[1]


def tta(model, images, classes, *, base, scales):
    """Test-time augmentation: `base`'s map averaged over a horizontal flip x the zooms
    (`scales` and 1), each min-max normalized, bilinearly resized to the input and mapped
    back to its frame; each pixel averages the views that show it. The classes are fixed
    by the plain view (its top-1 when `classes` is None). Returns input-size maps: 2 x
    |scales + {1}| calls of `base`."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    size = [int(images.shape[1]), int(images.shape[2])]
    logits, plain = base(model, images, classes)
    classes = target_classes(logits, classes)
    total = resize_maps(minmax(tf.cast(plain, tf.float32)), size)
    weight = tf.ones_like(total)
    views = [(1.0, True)] + [
        (float(s), flip) for s in sorted(set(scales) - {1.0}) for flip in (False, True)
    ]
    for scale, flip in views:
        view = zoom(images, scale) if scale != 1.0 else images
        if flip:
            view = tf.reverse(view, axis=[2])
        _, maps = base(model, view, classes)
        maps = resize_maps(minmax(tf.cast(maps, tf.float32)), size)
        if flip:
            maps = tf.reverse(maps, axis=[2])
        if scale != 1.0:
            maps, seen = unzoom(maps, scale)
        else:
            seen = tf.ones_like(maps)
        total += maps * seen
        weight += seen
    return logits, total / weight
