"""Score-map extractors (`--cam`): functions of a WSOL model, images and class ids.

Each extractor is `extractor(model, images, classes) -> (logits (B, C), maps (B, h, w))`
in TensorFlow ops (`classes` None: each image's top-1 class), so the same function serves
the evaluator, the TensorBoard pictures, `localize` and the exported SavedModel. Maps are
raw (not normalized); `wsol_tf.evaluation.cam` upsamples them to the input size and min-max
normalizes them (a constant or NaN map becomes zeros: no box). A method reaches them
through its `score_maps` hook (`wsol_tf.methods.base.Method.score_maps`).

Notation: A (B, h, w, K) the activations of a layer (default: the feature map the head
reads), y_c the logit of class c, g = dy_c/dA.

    classic    CAM: the head's class activation map (for GAP + Dense: sum_k w[k, c] A_k).
    gradcam    Grad-CAM without ReLU: sum_k mean_hw(g_k) A_k, as Tensorpack's ADL code.
    gradcampp  Grad-CAM++ (Chattopadhyay et al. 2018), the closed form with exponentiated
               logits S = exp(y_c): dS/dA = S g, and for a piecewise-linear network the
               higher derivatives are S g^2 and S g^3, so
               alpha = g^2 / (2 g^2 + sum_hw(A_k) g^3)   (0 where g = 0 or the denominator is),
               w_k = sum_hw(alpha ReLU(g)), map = ReLU(sum_k w_k A_k). The common factor S
               drops out (min-max normalization); this is the paper's formula as
               pytorch-grad-cam computes it (tf-keras-vis also rescales alpha per channel).
    layercam   Layer-CAM (Jiang et al. 2021): ReLU(sum_k ReLU(g_k) A_k), per position.
    scorecam   Score-CAM (Wang et al. 2020): each channel, bilinearly upsampled to the input
               and min-max normalized to [0, 1] (a constant channel gives a zero mask), masks
               the input image (pixels in [0, 255] times the mask); its weight is the softmax
               probability of class c on that masked image (the authors' code), map =
               ReLU(sum_k w_k A_k). Only the `scorecam_max_channels` channels of largest
               spatial variance are scored (Faster-Score-CAM's rule, tf-keras-vis `max_N`;
               0 = all), the rest weigh 0. Cost per image: 1 + min(K, max_channels) forward
               passes, run `scorecam_batch_size` masked images at a time.
    eigencam   Eigen-CAM (Muhammad & Yeasin 2020): the first principal component of A seen
               as h*w samples of K channels (centered over positions, SVD), map = ReLU of
               the projection. Sign fix: the component is oriented so that its channel
               weights sum to >= 0, which is the same as a non-negative correlation of the
               map with the channel-sum activation map. Class-agnostic.

Options (`CamSpec`): `layers` computes the map at named backbone layers instead of the
feature map; with two or more layers the maps are fused as Layer-CAM fuses them: each
min-max normalized, scaled by tanh(2 x), bilinearly resized to the largest of their sizes,
then the element-wise maximum. `smooth="tta"` averages the map over horizontal flips and
zooms (`tta_scales`), each mapped back to the input frame (see `tta`).

`cam` is accepted as another name for `classic` (`--cam=cam` in earlier commands).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

EXTRACTORS = {}
ALIASES = {"cam": "classic"}
SMOOTHING = ("none", "tta")
# Which extractors read activations at named layers (classic CAM reads the head's weights,
# which only apply to the feature map).
USES_LAYERS = {"gradcam", "gradcampp", "layercam", "scorecam", "eigencam"}
# Layer-CAM's tanh scaling of the maps it fuses (its paper's gamma).
FUSION_GAMMA = 2.0


def extractor(name, uses_layers=True):
    """Decorator: registers an extractor `fn(model, images, classes, spec=CamSpec())`."""

    def register(fn):
        EXTRACTORS[name] = fn
        if uses_layers:
            USES_LAYERS.add(name)
        else:
            USES_LAYERS.discard(name)
        return fn

    return register


def names() -> tuple[str, ...]:
    """Extractor names for `--cam`, aliases last."""
    return (*EXTRACTORS, *ALIASES)


def get(name):
    """The extractor function called `name` (or an alias); ValueError listing the valid ones."""
    canonical = ALIASES.get(name, name)
    if canonical not in EXTRACTORS:
        raise ValueError(f"cam={name!r}: valid choices are {', '.join(names())}")
    return EXTRACTORS[canonical]


def canonical_name(name) -> str:
    get(name)
    return ALIASES.get(name, name)


def _field(default, help, flag):  # noqa: A002 - absl's word
    return dataclasses.field(default=default, metadata={"help": help, "flag": flag})


@dataclasses.dataclass(frozen=True)
class CamSpec:
    """Which extractor and its options: what `--cam` and its companion flags describe.

    Every caller that wants a map (`ScoreMapper`, `evaluation.evaluate`, `localize`,
    `export` and the SavedModel) takes a `cam` that is a name or a `CamSpec` and turns it
    into one function with `build`; nothing else computes a map.
    """

    name: str = _field("classic", "Score-map extractor.", "cam")
    layers: tuple[str, ...] = _field(
        (),
        "Backbone layers to compute the map at (default: the feature map); two or more are "
        "fused as Layer-CAM does. Not for classic CAM.",
        "cam_layers",
    )
    smooth: str = _field(
        "none", "Test-time smoothing: none, or tta (flips x zooms, averaged).", "cam_smooth"
    )
    tta_scales: tuple[float, ...] = _field(
        (0.75, 1.0, 1.25),
        "Zooms of --cam_smooth=tta (each with and without a horizontal flip; 1 is always in).",
        "cam_tta_scales",
    )
    scorecam_batch_size: int = _field(
        32, "Masked images per forward pass of Score-CAM.", "scorecam_batch_size"
    )
    scorecam_max_channels: int = _field(
        64,
        "Channels Score-CAM scores per layer (largest spatial variance first; 0: all).",
        "scorecam_max_channels",
    )

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("name", ALIASES.get(self.name, self.name))
        layers = self.layers
        if isinstance(layers, str):
            layers = [s for s in layers.split(",") if s.strip()]
        set_("layers", tuple(str(s).strip() for s in layers))
        scales = self.tta_scales
        if isinstance(scales, str):
            scales = [s for s in scales.split(",") if s.strip()]
        try:
            set_("tta_scales", tuple(float(s) for s in scales))
        except (TypeError, ValueError):
            raise ValueError(
                f"--cam_tta_scales={self.tta_scales!r} is invalid: must be numbers."
            ) from None

    def validate(self) -> CamSpec:
        """Self, or ValueError naming the flag at fault."""
        if self.name not in EXTRACTORS:
            raise ValueError(
                f"--cam={self.name} is invalid: valid choices are {', '.join(names())}."
            )
        if self.smooth not in SMOOTHING:
            raise ValueError(f"--cam_smooth={self.smooth} is invalid: must be one of {SMOOTHING}.")
        if self.layers and self.name not in USES_LAYERS:
            raise ValueError(
                f"--cam_layers={','.join(self.layers)} is invalid with --cam={self.name}: its map "
                "comes from the head's weights on the feature map; use one of "
                f"{', '.join(sorted(USES_LAYERS))}."
            )
        if any(not s for s in self.layers) or len(set(self.layers)) != len(self.layers):
            raise ValueError(
                f"--cam_layers={','.join(self.layers)} is invalid: names must be distinct and "
                "non-empty."
            )
        if not self.tta_scales or any(not (math.isfinite(s) and s > 0) for s in self.tta_scales):
            raise ValueError(
                f"--cam_tta_scales={','.join(map(str, self.tta_scales))} is invalid: must be "
                "positive numbers."
            )
        for flag, value, low in (
            ("scorecam_batch_size", self.scorecam_batch_size, 1),
            ("scorecam_max_channels", self.scorecam_max_channels, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"--{flag}={value} is invalid: must be an integer >= {low}.")
        return self

    def describe(self) -> str:
        """`name`, plus the options that matter to it and differ from the defaults."""
        parts = []
        if self.layers:
            parts.append("layers=" + ",".join(self.layers))
        if self.smooth != "none":
            parts.append(f"smooth={self.smooth}({','.join(f'{s:g}' for s in self.tta_scales)})")
        if self.name == "scorecam":
            parts.append(f"max_channels={self.scorecam_max_channels}")
        return f"{self.name}({'; '.join(parts)})" if parts else self.name

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def flag_fields(cls):
        """(flag name, field) of every option, for the commands' flags."""
        return [(f.metadata["flag"], f) for f in dataclasses.fields(cls)]

    @classmethod
    def from_flags(cls, values: dict) -> CamSpec:
        """A validated spec from {flag name: value} (`cam`, `cam_layers`, ...)."""
        by_flag = {flag: f.name for flag, f in cls.flag_fields()}
        unknown = sorted(set(values) - set(by_flag))
        if unknown:
            raise ValueError(f"unknown extractor option --{unknown[0]}")
        kwargs = {by_flag[k]: v for k, v in values.items() if v is not None}
        return cls(**kwargs).validate()


def resolve(cam) -> CamSpec:
    """A validated `CamSpec` from a name, a spec, a dict of its fields, or None (classic)."""
    if cam is None:
        spec = CamSpec()
    elif isinstance(cam, CamSpec):
        spec = cam
    elif isinstance(cam, dict):
        spec = CamSpec(**cam)
    elif isinstance(cam, str):
        if ALIASES.get(cam, cam) not in EXTRACTORS:
            raise ValueError(f"cam={cam!r}: valid choices are {', '.join(names())}")
        spec = CamSpec(name=cam)
    else:
        raise TypeError(f"cam must be a name or a CamSpec; got {type(cam).__name__}")
    return spec.validate()


def build(cam):
    """The one map function of `cam` (name or spec): `fn(model, images, classes)`."""
    spec = resolve(cam)
    fn = functools.partial(EXTRACTORS[spec.name], spec=spec)
    if spec.smooth == "tta":
        fn = functools.partial(tta, base=fn, scales=spec.tta_scales)
    return fn


def prepare(model, cam) -> CamSpec:
    """Checks `cam`'s layers against `model` (ValueError naming --cam_layers) and builds the
    model that returns them, eagerly, before any tf.function traces it."""
    spec = resolve(cam)
    if spec.layers:
        model._layers_model(spec.layers)
    return spec


# --- shared pieces ----------------------------------------------------------------------


def target_classes(logits, classes):
    """`classes` as int32, or each row's arg-max when None."""
    import tensorflow as tf

    if classes is None:
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.cast(classes, tf.int32)


def _forward(model, images, layers):
    """(outputs dict, [activations (B, h, w, K) of each layer]); no layers: the features."""
    if not layers:
        outputs = model(images, training=False)
        return outputs, [outputs["features"]]
    return model.call_with_layers(images, layers, training=False)


def _gradients(model, images, classes, layers):
    """logits, classes, float32 activations and gradients of the class logit, per layer."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(images)  # records the graph even when no weight is trainable
        outputs, acts = _forward(model, images, layers)
        classes = target_classes(outputs["logits"], classes)
        chosen = tf.gather(outputs["logits"], classes, axis=1, batch_dims=1)
        total = tf.reduce_sum(tf.cast(chosen, tf.float32))  # images are independent
    grads = tape.gradient(total, acts)
    cast = [tf.cast(a, tf.float32) for a in acts]
    grads = [
        tf.zeros_like(a) if g is None else tf.cast(g, tf.float32)
        for a, g in zip(cast, grads, strict=True)
    ]
    return outputs["logits"], classes, cast, grads


def minmax(maps):
    """Per-map (B, h, w) min-max normalization to [0, 1]; constant or non-finite -> zeros."""
    import tensorflow as tf

    low = tf.reduce_min(maps, axis=[1, 2], keepdims=True)
    high = tf.reduce_max(maps, axis=[1, 2], keepdims=True)
    span = high - low
    finite = tf.reduce_all(tf.math.is_finite(maps), axis=[1, 2], keepdims=True)
    ok = finite & (span > 0)
    return tf.where(ok, (maps - low) / tf.where(ok, span, 1.0), 0.0)


def resize_maps(maps, size):
    """(B, h, w) -> (B, H, W) bilinear (half-pixel centers, no antialiasing)."""
    import tensorflow as tf

    return tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]


def fuse_layers(maps):
    """Layer-CAM's fusion of per-layer maps [(B, h_l, w_l)]: tanh(2 minmax(map)) each,
    bilinear to the largest height and width among them, element-wise maximum. One map is
    returned as it is."""
    import tensorflow as tf

    if len(maps) == 1:
        return maps[0]
    size = [max(int(m.shape[1]) for m in maps), max(int(m.shape[2]) for m in maps)]
    scaled = [resize_maps(tf.tanh(FUSION_GAMMA * minmax(m)), size) for m in maps]
    return tf.reduce_max(tf.stack(scaled), axis=0)


def _per_layer(fn, logits, acts, grads):
    return logits, fuse_layers([fn(a, g) for a, g in zip(acts, grads, strict=True)])


# --- the extractors ---------------------------------------------------------------------

DEFAULT_SPEC = CamSpec()


@extractor("classic", uses_layers=False)
def classic(model, images, classes, spec=DEFAULT_SPEC):
    """Classic CAM of `classes` from the model's head (`head.class_maps`)."""
    outputs = model(images, training=False)
    classes = target_classes(outputs["logits"], classes)
    return outputs["logits"], model.head.class_maps(outputs["features"], classes)


@extractor("gradcam")
def gradcam(model, images, classes, spec=DEFAULT_SPEC):
    """Grad-CAM without ReLU: `sum_k mean_hw(dy_c/dA_k) A_k` with y_c the class logit."""
    import tensorflow as tf

    logits, _, acts, grads = _gradients(model, images, classes, spec.layers)

    def one(a, g):
        return tf.einsum("bhwk,bk->bhw", a, tf.reduce_mean(g, axis=[1, 2]))

    return _per_layer(one, logits, acts, grads)


@extractor("gradcampp")
def gradcampp(model, images, classes, spec=DEFAULT_SPEC):
    """Grad-CAM++, closed-form alpha with exponentiated logits (module docstring)."""
    import tensorflow as tf

    logits, _, acts, grads = _gradients(model, images, classes, spec.layers)

    def one(a, g):
        g2 = g * g
        denominator = 2.0 * g2 + tf.reduce_sum(a, axis=[1, 2], keepdims=True) * g2 * g
        ok = (g != 0.0) & (denominator != 0.0)
        alpha = tf.where(ok, g2 / tf.where(ok, denominator, 1.0), 0.0)
        weights = tf.reduce_sum(alpha * tf.nn.relu(g), axis=[1, 2])  # (B, K)
        return tf.nn.relu(tf.einsum("bhwk,bk->bhw", a, weights))

    return _per_layer(one, logits, acts, grads)


@extractor("layercam")
def layercam(model, images, classes, spec=DEFAULT_SPEC):
    """Layer-CAM: `ReLU(sum_k ReLU(dy_c/dA_k) A_k)` position by position."""
    import tensorflow as tf

    logits, _, acts, grads = _gradients(model, images, classes, spec.layers)

    def one(a, g):
        return tf.nn.relu(tf.reduce_sum(tf.nn.relu(g) * a, axis=-1))

    return _per_layer(one, logits, acts, grads)


@extractor("eigencam")
def eigencam(model, images, classes, spec=DEFAULT_SPEC):
    """Eigen-CAM: ReLU of the sign-fixed first principal component (module docstring)."""
    import tensorflow as tf

    outputs, acts = _forward(model, images, spec.layers)

    def one(a):
        a = tf.cast(a, tf.float32)
        shape = tf.shape(a)
        flat = tf.reshape(a, [shape[0], shape[1] * shape[2], shape[3]])  # (B, hw, K)
        centered = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
        _, _, v = tf.linalg.svd(centered)  # v: (B, K, min(hw, K)), descending singular values
        first = v[:, :, 0]  # (B, K)
        sign = tf.where(tf.reduce_sum(first, axis=1, keepdims=True) < 0, -1.0, 1.0)
        projection = tf.einsum("bnk,bk->bn", centered, first * sign)
        return tf.nn.relu(tf.reshape(projection, shape[:3]))

    return outputs["logits"], fuse_layers([one(a) for a in acts])


@extractor("scorecam")
def scorecam(model, images, classes, spec=DEFAULT_SPEC):
    """Score-CAM with a channel cap and batched masked passes (module docstring)."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    outputs, acts = _forward(model, images, spec.layers)
    classes = target_classes(outputs["logits"], classes)
    size = [int(images.shape[1]), int(images.shape[2])]
    maps = [
        _scorecam_layer(model, images, classes, tf.cast(a, tf.float32), size, spec) for a in acts
    ]
    return outputs["logits"], fuse_layers(maps)


def _scorecam_layer(model, images, classes, acts, size, spec):
    import tensorflow as tf

    channels = int(acts.shape[-1])
    n = channels if spec.scorecam_max_channels == 0 else min(channels, spec.scorecam_max_channels)
    variance = tf.math.reduce_variance(acts, axis=[1, 2])  # (B, K)
    variance = tf.where(tf.math.is_finite(variance), variance, -1.0)
    _, chosen = tf.math.top_k(variance, k=n)  # (B, n), ties: lower channel first
    selected = tf.gather(acts, chosen, axis=3, batch_dims=1)  # (B, h, w, n)
    batch = tf.shape(acts)[0]
    flat = tf.reshape(
        tf.transpose(selected, [0, 3, 1, 2]), [-1, *selected.shape[1:3]]
    )  # (Bn, h, w)
    total = batch * n
    step = spec.scorecam_batch_size

    def body(start, scores):
        stop = tf.minimum(start + step, total)
        index = tf.range(start, stop)
        masks = minmax(resize_maps(tf.gather(flat, index), size))  # (b, H, W)
        owner = index // n
        masked = tf.gather(images, owner) * masks[..., None]
        logits = model(masked, training=False)["logits"]
        probs = tf.nn.softmax(tf.cast(logits, tf.float32))
        score = tf.gather(probs, tf.gather(classes, owner), axis=1, batch_dims=1)
        return stop, scores.write(start // step, score)

    scores = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)
    _, scores = tf.while_loop(
        lambda start, _: start < total, body, (tf.constant(0), scores), parallel_iterations=1
    )
    weights = tf.reshape(scores.concat(), [batch, n])  # (B, n)
    return tf.nn.relu(tf.einsum("bhwn,bn->bhw", selected, weights))


# --- test-time augmentation -------------------------------------------------------------


def _zoom_axis(x, axis, scaled, size, fill):
    """Crop (scaled >= size) or pad with `fill` (scaled < size) axis `axis` back to `size`,
    centered; returns the tensor."""
    import tensorflow as tf

    if scaled >= size:
        start = (scaled - size) // 2
        return tf.gather(x, tf.range(start, start + size), axis=axis)
    before = (size - scaled) // 2
    paddings = [[0, 0]] * 4
    paddings[axis] = [before, size - scaled - before]
    return tf.pad(x - fill, paddings) + fill


def _unzoom_axis(x, axis, scaled, size):
    """Inverse of `_zoom_axis` on a map in the zoomed frame: (map, coverage) on `scaled`."""
    import tensorflow as tf

    if scaled >= size:
        start = (scaled - size) // 2
        paddings = [[0, 0]] * 3
        paddings[axis] = [start, scaled - size - start]
        return tf.pad(x, paddings)
    before = (size - scaled) // 2
    return tf.gather(x, tf.range(before, before + scaled), axis=axis)


def zoom(images, scale):
    """Images resized by `scale` (bilinear), then center-cropped or padded (with each
    image's mean color) back to their size: the network sees a zoomed-in or -out view."""
    import tensorflow as tf

    height, width = int(images.shape[1]), int(images.shape[2])
    scaled = [max(1, round(scale * height)), max(1, round(scale * width))]
    x = tf.image.resize(images, scaled, method="bilinear")
    fill = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    x = _zoom_axis(x, 1, scaled[0], height, fill)
    return _zoom_axis(x, 2, scaled[1], width, fill)


def unzoom(maps, scale):
    """(maps, coverage) in the input frame from (B, H, W) maps of a `zoom`ed view: the crop
    or padding undone, then resized (bilinear) by 1 / scale. Coverage is 0 where the view
    did not show the image (a zoom-in loses the borders)."""
    import tensorflow as tf

    height, width = int(maps.shape[1]), int(maps.shape[2])
    scaled = [max(1, round(scale * height)), max(1, round(scale * width))]
    seen = tf.ones_like(maps)
    out = []
    for x in (maps, seen):
        x = _unzoom_axis(x, 1, scaled[0], height)
        x = _unzoom_axis(x, 2, scaled[1], width)
        out.append(resize_maps(x, [height, width]))
    return out[0], out[1]


def tta(model, images, classes, *, base, scales):
    """Test-time augmentation: `base`'s map averaged over a horizontal flip x the zooms
    (`scales` and 1), each min-max normalized, bilinearly resized to the input and mapped
    back to its frame; each pixel averages the views that show it. The classes are fixed
    by the plain view (its top-1 when `classes` is None). Returns input-size maps: 2 x
    |scales + {1}| calls of `base`."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    size = [int(images.shape[1]), int(images.shape[2])]
    logits, plain = base(model, images, classes)
    classes = target_classes(logits, classes)
    total = resize_maps(minmax(tf.cast(plain, tf.float32)), size)
    weight = tf.ones_like(total)
    views = [(1.0, True)] + [
        (float(s), flip) for s in sorted(set(scales) - {1.0}) for flip in (False, True)
    ]
    for scale, flip in views:
        view = zoom(images, scale) if scale != 1.0 else images
        if flip:
            view = tf.reverse(view, axis=[2])
        _, maps = base(model, view, classes)
        maps = resize_maps(minmax(tf.cast(maps, tf.float32)), size)
        if flip:
            maps = tf.reverse(maps, axis=[2])
        if scale != 1.0:
            maps, seen = unzoom(maps, scale)
        else:
            seen = tf.ones_like(maps)
        total += maps * seen
        weight += seen
    return logits, total / weight


# --- the caller's side ------------------------------------------------------------------


class ScoreMapper:
    """Images -> (logits, score maps of chosen classes) through the model's method.

    Args:
        model: a `WSOLModel` (`wsol_tf.models.build`) with its weights.
        cam: extractor name (`names()`) or `CamSpec`; default classic CAM.
    """

    def __init__(self, model, cam="classic"):
        import tensorflow as tf

        self.model = model
        self.spec = prepare(model, cam)
        self.cam = self.spec.name
        self.image_size = model.image_size
        self._extractor = build(self.spec)
        # reduce_retracing: the picture batches and a last partial batch have other sizes.
        self._maps = tf.function(self._raw_maps, reduce_retracing=True)
        self._logits = tf.function(
            lambda images: model(images, training=False)["logits"], reduce_retracing=True
        )

    def _raw_maps(self, images, classes):
        return self.model.method.score_maps(self.model, images, classes, self._extractor)

    def logits(self, images) -> np.ndarray:
        """(B, C) logits of a (B, h, w, 3) batch in [0, 255]."""
        return self._logits(images).numpy()

    def raw(self, images, classes):
        """(logits (B, C), raw maps (B, h', w') float32) as numpy."""
        import tensorflow as tf

        classes = tf.constant(np.asarray(classes, dtype=np.int32))
        logits, maps = self._maps(images, classes)
        return logits.numpy(), maps.numpy().astype(np.float32)

    def __call__(self, images, classes):
        """Logits (B, C) and normalized (B, h, w) float64 maps of `classes` at the input size."""
        from wsol_tf.evaluation.cam import normalize_scoremap, upsample_scoremaps

        logits, maps = self.raw(images, classes)
        return logits, normalize_scoremap(upsample_scoremaps(maps, self.image_size))
