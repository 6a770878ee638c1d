"""Layer-CAM (Jiang et al. 2021): ReLU(sum_k ReLU(g_k) A_k), position by position. Its
fusion of several layers is every extractor's (`base.fuse_layers`)."""

from wsol_tf.evaluation.extractors.base import gradients, per_layer
from wsol_tf.evaluation.extractors.spec import register


@register("layercam")
def layercam(model, images, classes, spec):
    import tensorflow as tf

    logits, _, acts, grads = gradients(model, images, classes, spec.layers)

    def one(a, g):
        return tf.nn.relu(tf.reduce_sum(tf.nn.relu(g) * a, axis=-1))

    return per_layer(one, logits, acts, grads)
