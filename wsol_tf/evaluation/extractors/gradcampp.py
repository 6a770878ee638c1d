"""Grad-CAM++ (Chattopadhyay et al. 2018), the closed form with exponentiated logits.

With S = exp(y_c): dS/dA = S g, and for a piecewise-linear network the higher derivatives
are S g^2 and S g^3, so

    alpha = g^2 / (2 g^2 + sum_hw(A_k) g^3)   (0 where g = 0 or the denominator is),
    w_k = sum_hw(alpha ReLU(g)),  map = ReLU(sum_k w_k A_k).

The common factor S drops out (min-max normalization); this is the paper's formula as
pytorch-grad-cam computes it (tf-keras-vis also rescales alpha per channel).
"""

from wsol_tf.evaluation.extractors.base import gradients, per_layer
from wsol_tf.evaluation.extractors.spec import register


@register("gradcampp")
def gradcampp(model, images, classes, spec):
    import tensorflow as tf

    logits, _, acts, grads = gradients(model, images, classes, spec.layers)

    def one(a, g):
        g2 = g * g
        denominator = 2.0 * g2 + tf.reduce_sum(a, axis=[1, 2], keepdims=True) * g2 * g
        ok = (g != 0.0) & (denominator != 0.0)
        alpha = tf.where(ok, g2 / tf.where(ok, denominator, 1.0), 0.0)
        weights = tf.reduce_sum(alpha * tf.nn.relu(g), axis=[1, 2])  # (B, K)
        return tf.nn.relu(tf.einsum("bhwk,bk->bhw", a, weights))

    return per_layer(one, logits, acts, grads)
