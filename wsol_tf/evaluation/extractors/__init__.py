"""Score-map extractors (`--cam`): functions of a WSOL model, images and class ids.

Each extractor is `fn(model, images, classes, spec) -> (logits (B, C), maps (B, h, w))` in
TensorFlow ops (`classes` None: each image's top-1 class), so the same function serves the
evaluator, the TensorBoard pictures, `localize` and the exported SavedModel. Maps are raw
(not normalized); `wsol_tf.evaluation.cam` upsamples them to the input size and min-max
normalizes them (a constant or NaN map becomes zeros: no box). A method reaches them through
its `score_maps` hook (`wsol_tf.methods.base.Method.score_maps`).

The package, split as pytorch-grad-cam splits `base_cam.py` from `grad_cam_plusplus.py`:

    spec       TensorFlow-free: the `EXTRACTORS` registry, `register`, `CamSpec` (the
               options, whose fields are the `--cam_*` flags) and `resolve`
    base       the plumbing: forward pass at named layers, gradients, Layer-CAM's fusion
    tta        test-time augmentation (`--cam_smooth=tta`)
    mapper     `build` (a spec -> its one map function), `prepare`, `ScoreMapper`
    classic, gradcam, gradcampp, layercam, eigencam, scorecam
               one extractor each, with its formula in its docstring

Every other module of this package is imported here and registers its extractor, so a new
extractor is one new module (see ARCHITECTURE.md, "How to add an extractor").

Options (`CamSpec`): `layers` computes the map at named backbone layers instead of the
feature map; with two or more layers the maps are fused as Layer-CAM fuses them: each
min-max normalized, scaled by tanh(2 x), bilinearly resized to the largest of their sizes,
then the element-wise maximum. `smooth="tta"` averages the map over horizontal flips and
zooms (`tta_scales`), each mapped back to the input frame (see `tta`).

`cam` is accepted as another name for `classic` (`--cam=cam` in earlier commands).
"""

from wsol_tf.evaluation.extractors.base import (
    FUSION_GAMMA,
    forward,
    fuse_layers,
    gradients,
    minmax,
    per_layer,
    resize_maps,
    target_classes,
)
from wsol_tf.evaluation.extractors.mapper import ScoreMapper, build, prepare
from wsol_tf.evaluation.extractors.spec import (
    ALIASES,
    DEFAULT_SPEC,
    EXTRACTORS,
    SMOOTHING,
    CamSpec,
    Extractor,
    canonical_name,
    get,
    names,
    register,
    resolve,
    uses_layers,
)
from wsol_tf.evaluation.extractors.tta import tta, unzoom, zoom
from wsol_tf.registry import import_submodules

# The modules that are the seam, not extractors.
SEAM_MODULES = ("spec", "base", "tta", "mapper")

import_submodules(__name__, skip=SEAM_MODULES)

__all__ = [
    "ALIASES",
    "DEFAULT_SPEC",
    "EXTRACTORS",
    "FUSION_GAMMA",
    "SEAM_MODULES",
    "SMOOTHING",
    "CamSpec",
    "Extractor",
    "ScoreMapper",
    "build",
    "canonical_name",
    "forward",
    "fuse_layers",
    "get",
    "gradients",
    "minmax",
    "names",
    "per_layer",
    "prepare",
    "register",
    "resize_maps",
    "resolve",
    "target_classes",
    "tta",
    "unzoom",
    "uses_layers",
    "zoom",
]
