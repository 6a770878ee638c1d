"""Class activation maps (CAM) and score-map post-processing, in numpy/cv2.

The pipeline that turns a feature map into a score map matches clovaai/wsolevaluation:

    CAM at feature resolution (h, w)  ->  cv2.resize to the input size (bicubic)
    ->  per-map min-max normalisation to [0, 1] (constant or NaN map -> zeros).

Resizing happens *before* normalising, so bicubic overshoot is folded into the [0, 1] range.
Upsampling and normalisation run in float64, as wsolevaluation does (its ``t2n`` casts CAMs
to float64 before ``cv2.resize``), so thresholds downstream see the same numbers.
"""

from __future__ import annotations

import cv2
import numpy as np

from wsol_tf.normalization import minmax_numpy

_INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
}


def class_activation_maps(features, classifier_kernel, class_indices) -> np.ndarray:
    """Classic CAM: ``cam_c = sum_k w[k, c] * F[..., k]`` (no bias, no ReLU).

    Args:
        features: (B, h, w, K) feature map feeding global average pooling (NHWC).
        classifier_kernel: (K, C) kernel of the Dense classifier (Keras layout). Its bias is
            deliberately not an argument: it adds a constant that min-max normalisation removes.
        class_indices: (B,) integer class whose map is wanted per image (the ground-truth class
            for GT-known metrics, the predicted class for Top-1).

    Returns:
        (B, h, w) float32 CAMs at feature resolution (not normalised).
    """
    features = np.asarray(features, dtype=np.float32)  # (B, h, w, K)
    kernel = np.asarray(classifier_kernel, dtype=np.float32)  # (K, C)
    class_indices = np.asarray(class_indices).reshape(-1).astype(np.int64)  # (B,)
    if features.ndim != 4:
        raise ValueError(f"features must be (B, h, w, K); got shape {features.shape}")
    if kernel.ndim != 2 or kernel.shape[0] != features.shape[-1]:
        raise ValueError(
            f"classifier_kernel must be (K={features.shape[-1]}, C); got shape {kernel.shape}"
        )
    if class_indices.shape[0] != features.shape[0]:
        raise ValueError(
            f"class_indices must have B={features.shape[0]} entries; got {class_indices.shape[0]}"
        )
    num_classes = kernel.shape[1]
    if ((class_indices < 0) | (class_indices >= num_classes)).any():
        raise ValueError(f"class_indices must lie in [0, {num_classes}); got {class_indices}")
    weights = kernel[:, class_indices].T  # (B, K)
    return np.einsum("bhwk,bk->bhw", features, weights).astype(np.float32)  # (B, h, w)


def grad_cam_maps(features, gradients) -> np.ndarray:
    """Grad-CAM without ReLU, as the Tensorpack ADL code computes it.

    ``cam = sum_k mean_{h,w}(dy/dF[..., k]) * F[..., k]`` where ``y`` is the logit of the class of
    interest (Tensorpack uses the ground-truth logit). The caller computes the gradients (e.g.
    with ``tf.GradientTape``); this function only combines them.

    Args:
        features: (B, h, w, K) feature map (NHWC).
        gradients: (B, h, w, K) gradient of the chosen logit with respect to ``features``.

    Returns:
        (B, h, w) float32 maps at feature resolution (not normalised).
    """
    features = np.asarray(features, dtype=np.float32)  # (B, h, w, K)
    gradients = np.asarray(gradients, dtype=np.float32)  # (B, h, w, K)
    if features.ndim != 4 or gradients.shape != features.shape:
        raise ValueError(
            f"features and gradients must both be (B, h, w, K); got {features.shape} and "
            f"{gradients.shape}"
        )
    weights = gradients.mean(axis=(1, 2))  # (B, K)
    return np.einsum("bhwk,bk->bhw", features, weights).astype(np.float32)  # (B, h, w)


def normalize_scoremap(cam) -> np.ndarray:
    """Min-max normalise each map to [0, 1] in float64 (`normalization.minmax_numpy`).

    Args:
        cam: (H, W) or (B, H, W) float array. Each (H, W) map is normalised on its own.

    Returns:
        Array of the same shape (float64 for float64 input, else float32) in [0, 1]. A constant
        map, or one containing NaN or Inf, becomes all zeros (wsolevaluation's rule, so that a
        dead CAM predicts no box rather than crashing the evaluation).
    """
    cam = np.asarray(cam)
    if cam.ndim not in (2, 3):
        raise ValueError(f"cam must be (H, W) or (B, H, W); got shape {cam.shape}")
    dtype = np.float64 if cam.dtype == np.float64 else np.float32
    return minmax_numpy(cam).astype(dtype)


def upsample_scoremaps(cams, size_hw, interpolation: str = "bicubic") -> np.ndarray:
    """Resize CAMs to ``size_hw`` with cv2.resize (does not normalise).

    Args:
        cams: (h, w) or (B, h, w) maps.
        size_hw: (H, W) target size, height first (cv2 itself takes (width, height); this
            function does the swap).
        interpolation: one of "bicubic" (wsolevaluation's choice, default), "bilinear"
            (Tensorpack's cv2 default), "nearest", "area".

    Returns:
        (H, W) or (B, H, W) float64 maps. Bicubic can overshoot the input range; normalise after.
    """
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {sorted(_INTERPOLATIONS)}; got {interpolation!r}"
        )
    height, width = (int(s) for s in size_hw)
    if height <= 0 or width <= 0:
        raise ValueError(f"size_hw must be two positive ints (H, W); got {size_hw}")
    cams = np.asarray(cams, dtype=np.float64)
    if cams.ndim not in (2, 3):
        raise ValueError(f"cams must be (h, w) or (B, h, w); got shape {cams.shape}")
    maps = cams.reshape((-1,) + cams.shape[-2:])  # (B, h, w)
    flag = _INTERPOLATIONS[interpolation]
    # One map at a time: cv2.resize caps the channel count and treats axis -1 as channels.
    out = np.stack([cv2.resize(m, (width, height), interpolation=flag) for m in maps])  # (B, H, W)
    return out.reshape(cams.shape[:-2] + (height, width))


def scoremaps_for_input(
    features, classifier_kernel, class_indices, size_hw, interpolation: str = "bicubic"
) -> np.ndarray:
    """CAM -> resize to the input size -> min-max normalise (wsolevaluation's order).

    Args:
        features: (B, h, w, K) feature map (NHWC).
        classifier_kernel: (K, C) Dense kernel.
        class_indices: (B,) class per image.
        size_hw: (H, W) network-input size.
        interpolation: see ``upsample_scoremaps``; default bicubic.

    Returns:
        (B, H, W) float64 score maps in [0, 1], ready for ``boxes_from_scoremap``.
    """
    cams = class_activation_maps(features, classifier_kernel, class_indices)  # (B, h, w)
    return normalize_scoremap(upsample_scoremaps(cams, size_hw, interpolation))  # (B, H, W)
