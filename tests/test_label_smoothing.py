"""Label smoothing (`--label_smoothing`): CE + eps * term equals the cross-entropy against
(1 - eps) one-hot + eps / C, checked against numpy and Keras, in the trainer's logged loss,
and refused outside [0, 1)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from wsol_tf.methods import cross_entropy, regularizers
from wsol_tf.runs.config import TrainConfig


def _np_smoothed_ce(logits, labels, eps):
    """-sum_c y_c log p_c with y = (1 - eps) one-hot + eps / C, straight from the definition."""
    log_p = logits - logits.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    target = np.full_like(log_p, eps / logits.shape[-1])
    target[np.arange(len(labels)), labels] += 1.0 - eps
    return -(target * log_p).sum(-1)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5])
def test_ce_plus_eps_term_is_the_smoothed_cross_entropy(eps):
    rng = np.random.RandomState(3)
    logits = rng.normal(scale=4.0, size=(5, 7))
    labels = np.array([0, 6, 3, 3, 1])
    outputs = {"logits": tf.constant(logits, tf.float32)}
    batch = {"label": tf.constant(labels)}
    term = regularizers.label_smoothing_term(outputs, batch)
    ours = (cross_entropy(batch["label"], outputs["logits"]) + eps * term).numpy()
    np.testing.assert_allclose(ours, _np_smoothed_ce(logits, labels, eps), rtol=1e-5, atol=1e-5)
    one_hot = np.eye(7, dtype=np.float32)[labels]
    reference = keras.losses.categorical_crossentropy(
        one_hot, outputs["logits"], from_logits=True, label_smoothing=eps
    ).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)
    assert regularizers.REGULARIZERS["label_smoothing"] is regularizers.label_smoothing_term


def test_the_term_is_zero_for_uniform_logits_and_positive_for_a_confident_right_class():
    outputs = {"logits": tf.constant([[0.0, 0.0, 0.0], [9.0, 0.0, 0.0]])}
    value = regularizers.label_smoothing_term(outputs, {"label": tf.constant([2, 0])}).numpy()
    assert abs(value[0]) < 1e-6 and value[1] > 5.0  # U - CE = 9 * 2 / 3 = 6 at the limit


def test_the_config_refuses_eps_outside_0_1(tmp_path):
    settings = dict(model="tinyvgg", dataset="synthetic", workdir=str(tmp_path))
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="--label_smoothing="):
            TrainConfig.from_settings(**settings, label_smoothing=bad).validate()
    config = TrainConfig.from_settings(**settings, label_smoothing=0.1).validate()
    assert set(regularizers.active(config)) == {"label_smoothing"}
    assert regularizers.active(TrainConfig.from_settings(**settings)) == {}
