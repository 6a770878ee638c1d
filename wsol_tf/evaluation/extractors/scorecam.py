"""Score-CAM (Wang et al. 2020): each channel, bilinearly upsampled to the input and min-max
normalized to [0, 1] (a constant channel gives a zero mask), masks the input image (pixels
in [0, 255] times the mask); its weight is the softmax probability of class c on that masked
image (the authors' code), map = ReLU(sum_k w_k A_k).

Only the `scorecam_max_channels` channels of largest spatial variance are scored
(Faster-Score-CAM's rule, tf-keras-vis `max_N`; 0 = all), the rest weigh 0. Cost per image:
1 + min(K, max_channels) forward passes, run `scorecam_batch_size` masked images at a time.
"""

from wsol_tf.evaluation.extractors.base import (
    forward,
    fuse_layers,
    minmax,
    resize_maps,
    target_classes,
)
from wsol_tf.evaluation.extractors.spec import register


def _describe(spec):
    return [f"max_channels={spec.scorecam_max_channels}"]


@register("scorecam", describe=_describe)
def scorecam(model, images, classes, spec):
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    outputs, acts = forward(model, images, spec.layers)
    classes = target_classes(outputs["logits"], classes)
    size = [int(images.shape[1]), int(images.shape[2])]
    maps = [_one_layer(model, images, classes, tf.cast(a, tf.float32), size, spec) for a in acts]
    return outputs["logits"], fuse_layers(maps)


def _one_layer(model, images, classes, acts, size, spec):
    import tensorflow as tf

    channels = int(acts.shape[-1])
    n = channels if spec.scorecam_max_channels == 0 else min(channels, spec.scorecam_max_channels)
    variance = tf.math.reduce_variance(acts, axis=[1, 2])  # (B, K)
    variance = tf.where(tf.math.is_finite(variance), variance, -1.0)
    _, chosen = tf.math.top_k(variance, k=n)  # (B, n), ties: lower channel first
    selected = tf.gather(acts, chosen, axis=3, batch_dims=1)  # (B, h, w, n)
    batch = tf.shape(acts)[0]
    flat = tf.reshape(
        tf.transpose(selected, [0, 3, 1, 2]), [-1, *selected.shape[1:3]]
    )  # (Bn, h, w)
    total = batch * n
    step = spec.scorecam_batch_size

    def body(start, scores):
        stop = tf.minimum(start + step, total)
        index = tf.range(start, stop)
        masks = minmax(resize_maps(tf.gather(flat, index), size))  # (b, H, W)
        owner = index // n
        masked = tf.gather(images, owner) * masks[..., None]
        logits = model(masked, training=False)["logits"]
        probs = tf.nn.softmax(tf.cast(logits, tf.float32))
        score = tf.gather(probs, tf.gather(classes, owner), axis=1, batch_dims=1)
        return stop, scores.write(start // step, score)

    scores = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)
    _, scores = tf.while_loop(
        lambda start, _: start < total, body, (tf.constant(0), scores), parallel_iterations=1
    )
    weights = tf.reshape(scores.concat(), [batch, n])  # (B, n)
    return tf.nn.relu(tf.einsum("bhwn,bn->bhw", selected, weights))
