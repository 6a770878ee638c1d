"""Eigen-CAM (Muhammad & Yeasin 2020): the first principal component of A seen as h*w
samples of K channels (centered over positions, SVD), map = ReLU of the projection.
Class-agnostic. Sign fix: the component is oriented so that its channel weights sum to
>= 0, which is the same as a non-negative correlation of the map with the channel-sum
activation map."""

from wsol_tf.evaluation.extractors.base import forward, fuse_layers
from wsol_tf.evaluation.extractors.spec import register


@register("eigencam")
def eigencam(model, images, classes, spec):
    import tensorflow as tf

    outputs, acts = forward(model, images, spec.layers)

    def one(a):
        a = tf.cast(a, tf.float32)
        shape = tf.shape(a)
        flat = tf.reshape(a, [shape[0], shape[1] * shape[2], shape[3]])  # (B, hw, K)
        centered = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
        _, _, v = tf.linalg.svd(centered)  # v: (B, K, min(hw, K)), descending singular values
        first = v[:, :, 0]  # (B, K)
        sign = tf.where(tf.reduce_sum(first, axis=1, keepdims=True) < 0, -1.0, 1.0)
        projection = tf.einsum("bnk,bk->bn", centered, first * sign)
        return tf.nn.relu(tf.reshape(projection, shape[:3]))

    return outputs["logits"], fuse_layers([one(a) for a in acts])
