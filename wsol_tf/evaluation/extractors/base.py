"""The plumbing every extractor shares, in TensorFlow ops: the forward pass at named layers,
the class logit's gradients, resizing, and Layer-CAM's fusion of per-layer maps.

Notation: A (B, h, w, K) the activations of a layer (default: the feature map the head
reads), y_c the logit of class c, g = dy_c/dA.
"""

from __future__ import annotations

from wsol_tf.normalization import minmax

# Layer-CAM's tanh scaling of the maps it fuses (its paper's gamma).
FUSION_GAMMA = 2.0

__all__ = [
    "FUSION_GAMMA",
    "forward",
    "fuse_layers",
    "gradients",
    "minmax",
    "per_layer",
    "resize_maps",
    "target_classes",
]


def target_classes(logits, classes):
    """`classes` as int32, or each row's arg-max when None."""
    import tensorflow as tf

    if classes is None:
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.cast(classes, tf.int32)


def forward(model, images, layers):
    """(outputs dict, [activations (B, h, w, K) of each layer]); no layers: the features."""
    if not layers:
        outputs = model(images, training=False)
        return outputs, [outputs["features"]]
    return model.call_with_layers(images, layers, training=False)


def gradients(model, images, classes, layers):
    """logits, classes, float32 activations and gradients of the class logit, per layer."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(images)  # records the graph even when no weight is trainable
        outputs, acts = forward(model, images, layers)
        classes = target_classes(outputs["logits"], classes)
        chosen = tf.gather(outputs["logits"], classes, axis=1, batch_dims=1)
        total = tf.reduce_sum(tf.cast(chosen, tf.float32))  # images are independent
    grads = tape.gradient(total, acts)
    cast = [tf.cast(a, tf.float32) for a in acts]
    grads = [
        tf.zeros_like(a) if g is None else tf.cast(g, tf.float32)
        for a, g in zip(cast, grads, strict=True)
    ]
    return outputs["logits"], classes, cast, grads


def resize_maps(maps, size):
    """(B, h, w) -> (B, H, W) bilinear (half-pixel centers, no antialiasing)."""
    import tensorflow as tf

    return tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]


def fuse_layers(maps):
    """Layer-CAM's fusion of per-layer maps [(B, h_l, w_l)]: tanh(2 minmax(map)) each,
    bilinear to the largest height and width among them, element-wise maximum. One map is
    returned as it is."""
    import tensorflow as tf

    if len(maps) == 1:
        return maps[0]
    size = [max(int(m.shape[1]) for m in maps), max(int(m.shape[2]) for m in maps)]
    scaled = [resize_maps(tf.tanh(FUSION_GAMMA * minmax(m)), size) for m in maps]
    return tf.reduce_max(tf.stack(scaled), axis=0)


def per_layer(fn, logits, acts, grads):
    """(logits, the fused map of `fn(A, g)` at each layer): a gradient extractor's return."""
    return logits, fuse_layers([fn(a, g) for a, g in zip(acts, grads, strict=True)])
