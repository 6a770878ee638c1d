"""Small line charts drawn with cv2 (no plotting dependency): the reproduction's curves.

A chart is RGB uint8 (H, W, 3): axes with ticks, one polyline per series with markers and
± error bars, and a legend. Good enough for RESULTS.md; not a general plotting library.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# RGB colours of successive series (colour-blind friendly: blue, orange, green, red, purple).
SERIES_COLORS = ((0, 114, 178), (230, 159, 0), (0, 158, 115), (213, 94, 0), (204, 121, 167))
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BLACK, _GREY = (0, 0, 0), (200, 200, 200)


def nice_ticks(low: float, high: float, count: int = 5) -> np.ndarray:
    """About ``count`` round tick values covering [low, high] (steps of 1, 2, 2.5 or 5 x 10^k)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"nice_ticks needs finite bounds, got low={low}, high={high}")
    if high <= low:
        high = low + 1.0
    raw_step = (high - low) / max(count - 1, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    return np.round(np.arange(first, last + step / 2, step), 10)


def _text(image, text, origin, scale=0.45, color=_BLACK, thickness=1):
    cv2.putText(image, text, origin, _FONT, scale, color, thickness, cv2.LINE_AA)


def _text_width(text, scale=0.45, thickness=1):
    (width, _), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    return width


def line_chart(
    x,
    series: dict,
    title: str,
    x_label: str,
    y_label: str,
    size: tuple[int, int] = (420, 640),
    x_tick_labels=None,
) -> np.ndarray:
    """Draws series of (mean, std) values over shared x positions.

    Args:
        x: (N,) x positions, increasing.
        series: {name: (means (N,), stds (N,) or None)}; NaN means leave the point out.
        title, x_label, y_label: text on the chart.
        size: (height, width) in pixels.
        x_tick_labels: optional N strings written under the x positions (default: the values).

    Returns:
        (H, W, 3) uint8 RGB chart.
    """
    x = np.asarray(x, np.float64)  # (N,)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"x must be a non-empty 1-D sequence, got shape {x.shape}")
    if not series:
        raise ValueError("line_chart needs at least one series")
    height, width = size
    left, right, top, bottom = 64, 170, 56, 52  # margins: y labels | legend, title | x labels
    plot_w, plot_h = width - left - right, height - top - bottom
    if plot_w < 50 or plot_h < 50:
        raise ValueError(f"size={size} leaves no room for the plot")

    lows, highs = [], []
    for name, (means, stds) in series.items():
        means = np.asarray(means, np.float64)
        if means.shape != x.shape:
            raise ValueError(f"series {name!r} has shape {means.shape}, x has {x.shape}")
        spread = np.zeros_like(means) if stds is None else np.nan_to_num(np.asarray(stds, float))
        lows.append(np.nanmin(means - spread) if np.isfinite(means).any() else np.nan)
        highs.append(np.nanmax(means + spread) if np.isfinite(means).any() else np.nan)
    y_ticks = nice_ticks(np.nanmin(lows), np.nanmax(highs))
    y_min, y_max = float(y_ticks[0]), float(y_ticks[-1])
    x_pad = 0.05 * ((float(x.max()) - float(x.min())) or 1.0)  # keep end points off the frame
    x_min, x_max = float(x.min()) - x_pad, float(x.max()) + x_pad
    x_span = x_max - x_min

    def to_px(xv, yv):
        px = left + (xv - x_min) / x_span * plot_w
        py = top + plot_h - (yv - y_min) / ((y_max - y_min) or 1.0) * plot_h
        return int(round(px)), int(round(py))

    image = np.full((height, width, 3), 255, np.uint8)
    for tick in y_ticks:
        _, py = to_px(x_min, tick)
        cv2.line(image, (left, py), (left + plot_w, py), _GREY, 1)
        label = f"{tick:g}"
        _text(image, label, (left - 6 - _text_width(label), py + 4))
    labels = x_tick_labels if x_tick_labels is not None else [f"{v:g}" for v in x]
    for xv, label in zip(x, labels, strict=True):
        px, _ = to_px(xv, y_min)
        cv2.line(image, (px, top + plot_h), (px, top + plot_h + 4), _BLACK, 1)
        _text(image, str(label), (px - _text_width(str(label)) // 2, top + plot_h + 18))
    cv2.rectangle(image, (left, top), (left + plot_w, top + plot_h), _BLACK, 1)
    _text(image, title, ((width - _text_width(title, 0.55)) // 2, 22), scale=0.55)
    _text(image, x_label, (left + (plot_w - _text_width(x_label)) // 2, height - 10))
    _text(image, y_label, (6, top - 10))

    for index, (name, (means, stds)) in enumerate(series.items()):
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        means = np.asarray(means, np.float64)
        stds = None if stds is None else np.asarray(stds, np.float64)
        finite = [i for i in range(len(x)) if np.isfinite(means[i])]
        points = [(to_px(x[i], means[i]), i) for i in finite]
        for (p0, _), (p1, _) in zip(points[:-1], points[1:], strict=True):
            cv2.line(image, p0, p1, color, 2, cv2.LINE_AA)
        for (px, py), i in points:
            if stds is not None and np.isfinite(stds[i]) and stds[i] > 0:
                _, y_hi = to_px(x[i], means[i] + stds[i])
                _, y_lo = to_px(x[i], means[i] - stds[i])
                cv2.line(image, (px, y_hi), (px, y_lo), color, 1)
                cv2.line(image, (px - 4, y_hi), (px + 4, y_hi), color, 1)
                cv2.line(image, (px - 4, y_lo), (px + 4, y_lo), color, 1)
            cv2.circle(image, (px, py), 4, color, -1, cv2.LINE_AA)
        legend_y = top + 14 + 20 * index
        cv2.line(image, (width - right + 12, legend_y - 4), (width - right + 36, legend_y - 4),
                 color, 2)  # fmt: skip
        _text(image, name, (width - right + 42, legend_y))
    return image
