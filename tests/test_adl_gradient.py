"""ADL's gradient per branch against the analytic gradient in float64 numpy.

The layer runs only the drawn branch (tf.cond); these tests pin the gradient it gives:
the drop mask is a constant (no gradient through the attention), the importance map
back-propagates through sigmoid(mean over channels).
"""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from wsol_tf.layers import ADL  # noqa: E402


def grad_reference(x, upstream, gamma, use_drop_mask):
    """d sum(upstream * ADL(x)) / dx in float64. x, upstream: (B, H, W, C)."""
    x = np.asarray(x, np.float64)
    attention = x.mean(axis=-1, keepdims=True)  # (B, H, W, 1)
    if use_drop_mask:
        mask = (attention < gamma * attention.max(axis=(1, 2), keepdims=True)).astype(float)
        return upstream * mask
    s = 1.0 / (1.0 + np.exp(-attention))  # (B, H, W, 1)
    direct = upstream * s
    # d/dx_c of s = s (1 - s) / C, times sum_c' upstream_c' x_c'.
    through_attention = (upstream * x).sum(-1, keepdims=True) * s * (1 - s) / x.shape[-1]
    return direct + through_attention


@pytest.mark.parametrize("drop_rate,use_drop_mask", [(1.0, True), (0.0, False)])
def test_gradient_matches_numpy(drop_rate, use_drop_mask):
    rng = np.random.default_rng(5)
    x = tf.constant(rng.uniform(-1, 2, (2, 5, 7, 3)).astype(np.float32))  # non-square
    upstream = rng.normal(size=(2, 5, 7, 3)).astype(np.float32)
    layer = ADL(drop_rate=drop_rate, gamma=0.8, seed=1)

    @tf.function
    def grad():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * upstream)
        return tape.gradient(loss, x)

    want = grad_reference(x.numpy(), upstream, 0.8, use_drop_mask)
    np.testing.assert_allclose(grad().numpy(), want, rtol=1e-5, atol=1e-6)
