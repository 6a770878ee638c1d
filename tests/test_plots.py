"""The cv2 line chart: tick values by hand and series drawn where their values say."""

import numpy as np
import pytest

from wsol_tf.reproduction.plots import SERIES_COLORS, line_chart, nice_ticks


def test_nice_ticks_golden_values():
    # Raw step (high - low) / 4, rounded up to 1, 2, 2.5 or 5 x 10^k.
    np.testing.assert_allclose(nice_ticks(0, 100), [0, 25, 50, 75, 100])  # 25 -> 25
    np.testing.assert_allclose(nice_ticks(3.2, 7.9), [2, 4, 6, 8])  # 1.175 -> 2
    np.testing.assert_allclose(nice_ticks(12.5, 61.0), [0, 20, 40, 60, 80])  # 12.1 -> 20
    np.testing.assert_allclose(nice_ticks(5, 5), [5, 5.25, 5.5, 5.75, 6])  # flat: a unit axis
    with pytest.raises(ValueError, match="finite"):
        nice_ticks(0, float("nan"))


def _has_color_near(image, xy, color, radius=2):
    x, y = xy
    patch = image[y - radius : y + radius + 1, x - radius : x + radius + 1].reshape(-1, 3)
    return bool((np.abs(patch.astype(int) - np.array(color)).sum(axis=1) <= 30).any())


def test_series_markers_sit_at_their_values():
    size = (300, 500)
    chart = line_chart(
        [0.0, 0.5, 1.0],
        {"a": ([0.0, 50.0, 100.0], [0.0, 10.0, 0.0]), "b": ([100.0, np.nan, 100.0], None)},
        "title",
        "x",
        "y",
        size=size,
    )
    assert chart.shape == (300, 500, 3) and chart.dtype == np.uint8

    # Plot area: left 64, right 170, top 56, bottom 52 -> x 64..330, y 56..248; the x range
    # [0, 1] is padded by 0.05 on each side and the y ticks span exactly 0..100.
    def to_px(xv, yv):
        return (
            int(round(64 + (xv + 0.05) / 1.1 * (500 - 64 - 170))),
            int(round(56 + (300 - 56 - 52) - yv / 100 * (300 - 56 - 52))),
        )

    assert _has_color_near(chart, to_px(0.5, 50.0), SERIES_COLORS[0])
    assert _has_color_near(chart, to_px(1.0, 100.0), SERIES_COLORS[1])
    assert _has_color_near(chart, to_px(0.0, 100.0), SERIES_COLORS[1])
    assert not _has_color_near(
        chart, to_px(0.5, 50.0), SERIES_COLORS[1]
    )  # the NaN point is left out
    assert _has_color_near(chart, to_px(0.5, 60.0), SERIES_COLORS[0], radius=1)  # error bar


def test_mismatched_series_is_refused():
    with pytest.raises(ValueError, match="series 'a' has shape"):
        line_chart([0, 1], {"a": ([1.0, 2.0, 3.0], None)}, "t", "x", "y")
