"""Grad-CAM (Selvaraju et al. 2017) without its ReLU, as Tensorpack's ADL code computes it:
sum_k mean_hw(g_k) A_k, with g = dy_c/dA."""

from wsol_tf.evaluation.extractors.base import gradients, per_layer
from wsol_tf.evaluation.extractors.spec import register


@register("gradcam")
def gradcam(model, images, classes, spec):
    import tensorflow as tf

    logits, _, acts, grads = gradients(model, images, classes, spec.layers)

    def one(a, g):
        return tf.einsum("bhwk,bk->bhw", a, tf.reduce_mean(g, axis=[1, 2]))

    return per_layer(one, logits, acts, grads)
