"""Per-map min-max normalization of score maps: the one rule every map goes through.

Each (h, w) map is scaled to [0, 1] by its own minimum and maximum. A constant map, or one
holding NaN or Inf, becomes zeros, so a dead map predicts no box instead of NaNs (a NaN
score has no defined uint8 cast, and an Inf makes the span Inf and the map Inf / Inf).

The rule is written once (`_rule`) and applied by three thin front ends, because the
callers' numbers differ in library and dtype, not in the rule:

    minmax(maps)              TensorFlow, in the maps' dtype (extractors: fusion, TTA,
                              Score-CAM's masks)
    normalize_maps(maps)      TensorFlow, cast to float32 first (deployment's boxes; ACoL's
                              erasing and SPG's guidance, inside training)
    minmax_numpy(maps)        numpy float64 (the evaluator, as wsolevaluation computes it)

Importable without TensorFlow (imported inside the TensorFlow front ends).
"""

from __future__ import annotations

import numpy as np


def _rule(maps, low, high, finite, where):
    """(maps - low) / (high - low) where the map is finite and not constant, else 0; `where`
    is `tf.where` or `np.where`, the other arguments broadcast against `maps`."""
    span = high - low
    ok = finite & (span > 0)
    return where(ok, (maps - low) / where(ok, span, 1.0), 0.0)


def minmax(maps):
    """(B, h, w) tensor -> each map in [0, 1], same dtype; constant or non-finite -> zeros."""
    import tensorflow as tf

    return _rule(
        maps,
        tf.reduce_min(maps, axis=[1, 2], keepdims=True),
        tf.reduce_max(maps, axis=[1, 2], keepdims=True),
        tf.reduce_all(tf.math.is_finite(maps), axis=[1, 2], keepdims=True),
        tf.where,
    )


def normalize_maps(maps):
    """(B, h, w) maps of any float dtype -> float32 maps in [0, 1] (`minmax` after a cast)."""
    import tensorflow as tf

    return minmax(tf.cast(maps, tf.float32))


def minmax_numpy(maps) -> np.ndarray:
    """(..., h, w) array -> float64 maps in [0, 1], each (h, w) map on its own."""
    maps = np.asarray(maps, dtype=np.float64)
    axes = (-2, -1)
    # A non-finite map computes NaNs (Inf - Inf) that the rule then discards.
    with np.errstate(invalid="ignore"):
        return _rule(
            maps,
            maps.min(axis=axes, keepdims=True),
            maps.max(axis=axes, keepdims=True),
            np.isfinite(maps).all(axis=axes, keepdims=True),
            np.where,
        )
