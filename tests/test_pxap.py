"""PxAP (wsol_tf.evaluation.pxap): hand values and a brute-force per-threshold count."""

import numpy as np
import pytest

from wsol_tf.evaluation.pxap import pxap, pxap_from_histograms, pxap_histograms


def _brute_force_pxap(maps, masks, thresholds):
    """Count TP/FP at 'score >= t' for t = 2, 1, then the thresholds descending; sum P * dR."""
    scores_fg = np.concatenate([m[k == 1] for m, k in zip(maps, masks, strict=True)])
    scores_bg = np.concatenate([m[k == 0] for m, k in zip(maps, masks, strict=True)])
    cuts = [2.0, 1.0] + sorted(thresholds, reverse=True)
    total = 0.0
    previous_recall = 0.0
    for i, t in enumerate(cuts):
        tp = int((scores_fg >= t).sum())
        fp = int((scores_bg >= t).sum())
        recall = tp / len(scores_fg)
        if i > 0 and tp + fp > 0:
            total += tp / (tp + fp) * (recall - previous_recall)
        previous_recall = recall
    return 100.0 * total


def test_hand_values_non_square():
    thresholds = [0.0, 0.5]
    # Object pixels 0.9, 0.4; background 0.6, 0.1: at 0.5 one TP one FP (P 1/2, R 1/2); at 0
    # everything (P 1/2, R 1) -> 0.5 * 0.5 + 0.5 * 0.5 = 0.5.
    scoremap = np.array([[0.9, 0.4, 0.6], [0.1, 0.0, 0.0]])
    mask = np.array([[1, 1, 0], [0, 255, 255]], dtype=np.uint8)
    assert pxap([scoremap], [mask], thresholds) == pytest.approx(50.0)
    # Object 0.9, 0.6 above background 0.4, 0.1: perfect ranking -> 100.
    scoremap = np.array([[0.9, 0.6, 0.4], [0.1, 0.0, 0.0]])
    assert pxap([scoremap], [mask], thresholds) == pytest.approx(100.0)


def test_score_of_exactly_one_has_its_own_bin():
    fg, bg = pxap_histograms(np.array([[1.0, 0.99]]), np.array([[1, 0]]), np.arange(0, 1, 0.5))
    np.testing.assert_array_equal(fg, [0, 0, 1, 0])  # bins [0, .5), [.5, 1), [1, 2), [2, 3]
    np.testing.assert_array_equal(bg, [0, 1, 0, 0])


@pytest.mark.parametrize("step", [0.1, 0.01, 0.001])
def test_equals_brute_force(step):
    rng = np.random.default_rng(5)
    thresholds = np.arange(0, 1, step)
    maps, masks = [], []
    for shape in [(13, 21), (8, 5), (30, 17)]:
        masks.append(rng.choice([0, 1, 255], size=shape, p=[0.5, 0.4, 0.1]).astype(np.uint8))
        # Object pixels score higher on average, so the AP is well above chance, not 100.
        m = np.clip(rng.normal(0.4, 0.2, shape) + 0.2 * (masks[-1] == 1), 0, 1)
        m[0, 0] = 1.0  # exercise the [1, 2) bin
        maps.append(m)
    got = pxap(maps, masks, thresholds)
    assert got == pytest.approx(_brute_force_pxap(maps, masks, thresholds), rel=1e-12)
    assert 40 < got < 100


def test_errors():
    with pytest.raises(ValueError, match="shape"):
        pxap_histograms(np.zeros((4, 6)), np.zeros((6, 4)), [0.0, 0.5])
    with pytest.raises(ValueError, match="0, 1 or 255"):
        pxap_histograms(np.zeros((2, 3)), np.full((2, 3), 2), [0.0, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        pxap_histograms(np.full((2, 3), np.nan), np.zeros((2, 3)), [0.0, 0.5])
    with pytest.raises(ValueError, match="ascending"):
        pxap_histograms(np.zeros((2, 3)), np.zeros((2, 3)), [0.5, 0.0])
    with pytest.raises(ValueError, match="no object pixel"):
        pxap_from_histograms(np.zeros(4), np.ones(4))
