"""Loss terms that compose with every method, each weighted by one `TrainConfig` field.

    entropy_weight   lambda * KL(u || p): pulls the softmax p toward the uniform u, i.e.
                     raises the prediction's entropy (Hwang, Ha, Shim, Choe; seed 003).
    label_smoothing  eps * (U - CE), U = -mean_c log p_c: with the method's CE this is the
                     cross-entropy against (1 - eps) one-hot + eps / C (Szegedy et al. 2016;
                     Keras' `label_smoothing`), exactly: (1 - eps) CE + eps U. It smooths the
                     `label` the batch carries (CutMix's second label keeps its plain CE).

On the sign: the seed's first formula reads L = H(y, p) - lambda * KL(u || p), but its own
derivation expands KL(u || p) = -log C - (1/C) sum_c log p_c and then *adds* lambda * (-1/C)
sum_c log p_c, and the stated intent is to raise the entropy of p. Minimizing +lambda * KL(u||p)
does that (KL(u || p) >= 0, zero only at p = u); subtracting it would lower the entropy. We
add it, and keep the constant -log C so the term is exactly KL (0 at the uniform softmax).
`tests/test_entropy.py` trains with both signs: +lambda raises the softmax's entropy over
plain CE, -lambda lowers it.

A regularizer is a function (outputs, batch) -> per-example (B,) term; adding one is a
function here plus its weight field in `TrainConfig`.
"""


def entropy_term(outputs, batch):
    """Per-example KL(u || softmax(logits)) = -log C - mean_c log p_c, (B,) float32."""
    import tensorflow as tf

    logits = tf.cast(outputs["logits"], tf.float32)
    log_p = tf.nn.log_softmax(logits, axis=-1)  # (B, C)
    num_classes = tf.cast(tf.shape(logits)[-1], tf.float32)
    return -tf.math.log(num_classes) - tf.reduce_mean(log_p, axis=-1)


def label_smoothing_term(outputs, batch):
    """Per-example U - CE(label) with U = -mean_c log p_c, (B,) float32: weighted by eps and
    added to CE, the label-smoothed cross-entropy."""
    import tensorflow as tf

    log_p = tf.nn.log_softmax(tf.cast(outputs["logits"], tf.float32), axis=-1)  # (B, C)
    labels = tf.cast(batch["label"], tf.int32)
    true_class = tf.gather(log_p, labels, axis=-1, batch_dims=1)
    return true_class - tf.reduce_mean(log_p, axis=-1)


# TrainConfig field holding the weight -> term.
REGULARIZERS = {"entropy_weight": entropy_term, "label_smoothing": label_smoothing_term}


def active(config) -> dict:
    """{field: (weight, term)} of the regularizers with a non-zero weight in `config`."""
    return {
        field: (float(getattr(config, field)), term)
        for field, term in REGULARIZERS.items()
        if getattr(config, field)
    }
