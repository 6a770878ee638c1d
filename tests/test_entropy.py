"""The entropy regularizer (seed 003): value against numpy, lambda = 0 is plain CE in the
trainer, and training with it raises the softmax's entropy (the sign the seed's notes need)."""

import numpy as np
import pytest
import tensorflow as tf

from wsol_tf.data import synthetic
from wsol_tf.data.datasets import load_split
from wsol_tf.methods import cross_entropy, regularizers
from wsol_tf.runs.config import TrainConfig
from wsol_tf.training.distribute import make_strategy
from wsol_tf.training.trainer import Trainer


def _np_kl_uniform(logits):
    """KL(u || softmax(logits)) = sum_c u_c log(u_c / p_c), straight from the definition."""
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    u = np.full_like(p, 1.0 / p.shape[-1])
    return (u * np.log(u / p)).sum(-1)


def test_value_against_numpy():
    logits = np.random.RandomState(0).normal(scale=3.0, size=(6, 7))
    logits[0] = 0.0  # uniform softmax: KL 0
    value = regularizers.entropy_term({"logits": tf.constant(logits, tf.float32)}, {}).numpy()
    assert value.shape == (6,) and value.dtype == np.float32
    np.testing.assert_allclose(value, _np_kl_uniform(logits), rtol=1e-5, atol=1e-6)
    assert abs(value[0]) < 1e-6 and np.all(value[1:] > 0)
    assert regularizers.REGULARIZERS["entropy_weight"] is regularizers.entropy_term


def _mean_entropy(logits):
    log_p = tf.nn.log_softmax(logits)
    return float(tf.reduce_mean(-tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1)))


def _train_linear(weight, steps=300, lr=0.5):
    """Softmax regression on one fixed batch, loss CE + weight * entropy term; returns the
    trained softmax's mean entropy (nats)."""
    rng = np.random.RandomState(0)
    x = tf.constant(rng.normal(size=(32, 10)), tf.float32)
    labels = tf.constant(np.argmax(x.numpy() @ rng.normal(size=(10, 4)), axis=1))
    kernel = tf.Variable(tf.zeros((10, 4)))
    bias = tf.Variable(tf.zeros((4,)))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = x @ kernel + bias
            term = regularizers.entropy_term({"logits": logits}, {})
            loss = tf.reduce_mean(cross_entropy(labels, logits) + weight * term)
        for v, g in zip((kernel, bias), tape.gradient(loss, (kernel, bias)), strict=True):
            v.assign_sub(lr * g)

    for _ in range(steps):
        step()
    return _mean_entropy(x @ kernel + bias)


def test_training_with_the_term_raises_the_entropy():
    # Deterministic (zero init, full batch, fixed data); tolerance 0.05 nats (log 4 = 1.39).
    plain = _train_linear(0.0)
    raised = _train_linear(0.3)
    assert raised > plain + 0.05, (plain, raised)
    assert _train_linear(1.0) > raised + 0.05  # stronger weight, closer to uniform
    # The seed's first formula, H(y, p) - lambda * KL(u || p), does the opposite.
    assert _train_linear(-0.3) < plain - 0.05


@pytest.fixture(scope="module")
def tiny_records(tmp_path_factory):
    root = tmp_path_factory.mktemp("entropy") / "tiny"
    synthetic.generate(root, num_classes=3, train_per_class=4, test_per_class=1, seed=5,
                       min_size=40, max_size=64)  # fmt: skip
    return str(root), load_split("cub", str(root), "train")


def test_the_trainer_adds_lambda_times_the_term_and_nothing_at_zero(tiny_records, tmp_path):
    data, records = tiny_records
    settings = dict(
        model="tinyvgg", dataset="cub", data_dir=data, method="cam", epochs=1, steps_per_epoch=1,
        batch_size=4, image_size=(32, 48), seed=7, tensorboard=False, workdir=str(tmp_path),
    )  # fmt: skip
    assert regularizers.active(TrainConfig.from_settings(**settings)) == {}  # lambda = 0: CE only
    with pytest.raises(ValueError, match="--entropy_weight=-0.1 is invalid"):
        TrainConfig.from_settings(**settings, entropy_weight=-0.1).validate()
    config = TrainConfig.from_settings(**settings, entropy_weight=0.5).validate()
    trainer = Trainer.from_config(
        config, records, make_strategy("one_device", 0), print_fn=lambda *_: 0
    )
    # The first step's batch and logits, by hand, before the step changes the weights.
    batch = next(trainer._iterator(0, 0))
    logits = trainer.model(batch["image"], training=True)["logits"].numpy().astype(np.float64)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -log_p[np.arange(len(logits)), batch["label"].numpy()]
    kl = _np_kl_uniform(logits)
    log = trainer.train()[0]
    np.testing.assert_allclose(log["entropy"], kl.mean(), rtol=1e-5)
    np.testing.assert_allclose(log["loss"], ce.mean() + 0.5 * kl.mean(), rtol=1e-5)
