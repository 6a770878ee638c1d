"""The embedded default dataset ``synthetic``: a tiny, seeded stand-in for CUB-200-2011.

Why this dataset exists
-----------------------
ADL (Choe & Shim, CVPR 2019) fixes one failure of CAM-style weakly supervised localization: a
classifier trained with image labels only learns the *most discriminative part* of an object
(a bird's head) and its class activation map covers that part instead of the whole object, so
the box derived from the map is too small. This generator builds images that pose exactly that
problem, small and fast enough to train on a CPU in minutes, with ground truth to measure it.

Every image holds one object of class ``c`` made of

* a **part** (the "head"): a small disk, about 5-10 % of the object's box area, at one end of
  the body's long axis. It is filled with a saturated, class-specific hue and carries a dark,
  class-specific glyph (disk, ring, triangle, ...). Nothing else in the image is saturated, so
  the part alone names the class almost perfectly: the shortcut a classifier learns first.
* a **body**: a large ellipse filling most of the box, painted with stripes. Its evidence for
  the class is weaker but real: the stripe hue (muted, the complement of the part hue) is drawn
  around a class mean with noise wide enough that neighbouring classes overlap, and the stripe
  period is one of three values that alternate over neighbouring classes, also with noise. The
  stripe orientation is random, so both cues survive flips and rotations (augmentation).
  From the body alone a classifier does clearly better than chance, but far worse than from
  the part: this is what forces a part-only classifier to need ADL to cover the whole object.
  ``body_hue_noise`` (default 0.5 hue spacings) sets how weak that evidence is: at 0.8 a
  network barely learns the body, and ADL's map only grows around the part; at 0.25 the body
  alone names the class well and a vanilla CAM already spreads onto it.

on a cluttered **background**: a smooth random colour field, muted blobs and lines, pixel noise,
and 0-2 *distractors*: striped ellipses textured like the bodies of random classes (never with
a part), so body texture alone does not give away where the object is.

The object's pose is random: rotation in [0, 360) (which includes flips and the end carrying
the part), position, and scale so that its tight box covers about 15-35 % of the image. Image
height and width are drawn independently, so most images are not square.

Layout (that of CUB_200_2011, so a CUB loader reads it unchanged)::

    root/
      images/<NNN>.<class_name>/<class_name>_<JJJJ>.jpg   JPEG quality 95, BGR written by cv2
      images.txt              <id> <path relative to images/>          ids 1..N
      image_class_labels.txt  <id> <class id 1..K>
      train_test_split.txt    <id> <1 train | 0 test>
      bounding_boxes.txt      <id> <x> <y> <w> <h>   tight box of body + part, floats
      classes.txt             <class id> <NNN.class_name>
      part_boxes.txt          <id> <x> <y> <w> <h>   tight box of the part (not in CUB)
      README                  generator version, parameters and seed

Boxes are in the pixels of the stored image, CUB style: ``x, y`` is the top-left pixel of the
box and ``w, h`` the number of pixels it spans, so it covers columns ``x .. x + w - 1``.

Every image is drawn from its own ``np.random.Generator`` seeded by ``(seed, class, index in
class)``, so the output depends only on the parameters, not on generation order, and adding
images per class keeps the earlier ones.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pathlib
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np

from wsol_tf.data.cub import load_cub
from wsol_tf.data.dataset import DATASETS, Dataset

# cv2 is imported inside the drawing functions: the dataset list (flag checks) imports this
# module, and cv2 alone takes about half a second.

# Bump when the generated content changes, so ensure_synthetic never reuses a stale cache.
VERSION = 2

DEFAULTS = {
    "num_classes": 8,
    "train_per_class": 40,
    "test_per_class": 40,
    "seed": 0,
    "min_size": 96,
    "max_size": 160,
    # Std of the body hue around its class mean, in hue spacings. 0.5 since the reproduction
    # of issue #7 (0.8 before): at 0.8 the body was too weak to learn and ADL's map only grew
    # around the part; 0.5 is where the body is learnable but the part is still the shortcut.
    "body_hue_noise": 0.5,
    # Multiplies the part's target share of the object box (PART_AREA_RANGE): below 1 the
    # shortcut is smaller, as a bird's head is next to a large body.
    "part_scale": 1.0,
}

GLYPHS = ("disk", "ring", "triangle", "square", "cross", "bar", "dots", "star")
MAX_HUES = 12  # Distinct part hues; more classes reuse hues with another glyph.
MAX_CLASSES = MAX_HUES * len(GLYPHS)  # Every (hue, glyph) pair stays unique (see class_specs).
BODY_PERIODS = (4.0, 6.0, 9.0)  # Stripe periods in pixels, alternating over classes.
# Object box area / image area (target). Below 0.5 on purpose: a box around the whole image
# then never reaches IoU 0.5, so a trivial answer cannot score GT-known Loc.
OBJECT_AREA_RANGE = (0.15, 0.35)
PART_AREA_RANGE = (0.05, 0.10)  # Part box area / object box area (target).
BODY_HUE_NOISE = DEFAULTS["body_hue_noise"]  # Std of the body hue around its class mean.
BODY_PERIOD_NOISE = 0.2  # Std of log(period).
JPEG_QUALITY = 95


@dataclass(frozen=True)
class ClassSpec:
    """What makes one class recognisable.

    Attributes:
      name: CUB-style class folder name, ``NNN.<name>``.
      part_hue: Hue of the part, OpenCV units [0, 180).
      glyph: Glyph drawn on the part, one of ``GLYPHS``.
      body_hue: Mean hue of the body stripes, OpenCV units.
      body_hue_std: Std of the body hue around ``body_hue``.
      body_period: Mean stripe period of the body, pixels.
    """

    name: str
    part_hue: float
    glyph: str
    body_hue: float
    body_hue_std: float
    body_period: float


def class_specs(num_classes: int, body_hue_noise: float = BODY_HUE_NOISE) -> list[ClassSpec]:
    """Returns the fixed visual definition of each class (independent of the seed).

    Args:
      num_classes: Number of classes K, 1..MAX_CLASSES.
      body_hue_noise: Std of each instance's body hue around its class mean, in hue
        spacings: how weak the body's class evidence is (0 makes the body hue exact).

    Returns:
      K ClassSpec, index c for the class with 1-based id c + 1.
    """
    if not 1 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be in [1, {MAX_CLASSES}], got {num_classes}")
    if not body_hue_noise >= 0:
        raise ValueError(f"body_hue_noise must be >= 0, got body_hue_noise={body_hue_noise}")
    num_hues = min(num_classes, MAX_HUES)
    spacing = 180.0 / num_hues
    specs = []
    for c in range(num_classes):
        part_hue = (c % num_hues) * spacing
        # Classes sharing a hue (c, c + 12 m) get different glyphs while m < len(GLYPHS).
        glyph = GLYPHS[(c + c // num_hues) % len(GLYPHS)]
        label = f"Hue{round(part_hue * 2):03d}_{glyph.capitalize()}"
        specs.append(
            ClassSpec(
                name=f"{c + 1:03d}.{label}",
                part_hue=part_hue,
                glyph=glyph,
                body_hue=(part_hue + 90.0) % 180.0,
                body_hue_std=body_hue_noise * spacing,
                body_period=BODY_PERIODS[c % len(BODY_PERIODS)],
            )
        )
    return specs


# --------------------------------------------------------------------------- drawing helpers


def _hsv_to_bgr(h: float, s: float, v: float) -> np.ndarray:
    """One HSV colour (OpenCV ranges) to a float32 BGR triple in [0, 255]."""
    import cv2

    hsv = np.array([[[h % 180.0, np.clip(s, 0, 255), np.clip(v, 0, 255)]]], np.float32)
    hsv[..., 0] *= 2.0  # float HSV in OpenCV uses degrees and S, V in [0, 1].
    hsv[..., 1:] /= 255.0
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0] * 255.0  # (3,)


def _ellipse_sd(xx, yy, cx, cy, a, b, phi):
    """Approximate signed distance (pixels, < 0 inside) to a rotated ellipse; (H, W)."""
    dx, dy = xx - cx, yy - cy
    u = dx * np.cos(phi) + dy * np.sin(phi)  # (H, W) along the long axis
    v = -dx * np.sin(phi) + dy * np.cos(phi)  # (H, W)
    f = (u / a) ** 2 + (v / b) ** 2 - 1.0
    grad = 2.0 * np.sqrt((u / a**2) ** 2 + (v / b**2) ** 2) + 1e-6
    return f / grad  # First-order distance: exact near the edge, which is all AA needs.


def _alpha(sd):
    """Anti-aliased coverage from a signed distance; (H, W) in [0, 1]."""
    return np.clip(0.5 - sd, 0.0, 1.0)


def _stripes(xx, yy, rng, hue, period):
    """Striped texture with random orientation, phase, saturation and contrast; (H, W, 3)."""
    theta = rng.uniform(0.0, np.pi)
    phase = rng.uniform(0.0, 2.0 * np.pi)
    t = 0.5 + 0.5 * np.sin(2.0 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period + phase)
    sat = rng.uniform(60.0, 130.0)  # Muted: only the part is saturated.
    val = rng.uniform(110.0, 190.0)
    contrast = rng.uniform(40.0, 80.0)
    light = _hsv_to_bgr(hue, sat, val + contrast / 2)
    dark = _hsv_to_bgr(hue, sat, val - contrast / 2)
    return dark + (light - dark) * t[..., None]  # (H, W, 3)


def _class_body_texture(xx, yy, rng, spec: ClassSpec):
    """Body texture of one class with per-instance noise on hue and period; (H, W, 3)."""
    hue = spec.body_hue + rng.normal(0.0, spec.body_hue_std)
    period = spec.body_period * np.exp(rng.normal(0.0, BODY_PERIOD_NOISE))
    return _stripes(xx, yy, rng, hue, period)


def _background(rng, height: int, width: int) -> np.ndarray:
    """Muted smooth colour field with blobs and lines; uint8 (H, W, 3) BGR."""
    import cv2

    cells = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
    hsv = np.stack(
        [
            rng.uniform(0, 180, cells),
            rng.uniform(0, 90, cells),  # Never saturated: saturation is the part's cue.
            rng.uniform(70, 210, cells),
        ],
        axis=-1,
    ).astype(np.uint8)  # (ch, cw, 3)
    low = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    img = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)  # (H, W, 3)
    side = min(height, width)

    def muted():
        return tuple(float(x) for x in _hsv_to_bgr(*rng.uniform((0, 0, 50), (180, 100, 230))))

    for _ in range(int(rng.integers(3, 8))):
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = tuple(int(x) for x in rng.uniform(0.04, 0.2, 2) * side + 1)
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(img, center, axes, angle, 0, 360, muted(), -1, cv2.LINE_AA)
    for _ in range(int(rng.integers(2, 6))):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(img, p0, p1, muted(), int(rng.integers(1, 4)), cv2.LINE_AA)
    return img


def _glyph_mask(height, width, glyph, cx, cy, size, phi) -> np.ndarray:
    """Anti-aliased glyph of half-size ``size`` centred on (cx, cy), rotated; (H, W) in [0, 1]."""
    import cv2

    canvas = np.zeros((height, width), np.uint8)
    shift = 4  # cv2 sub-pixel coordinates: fixed point with 4 fractional bits.
    scale = float(1 << shift)
    rot = np.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])

    def pts(unit):  # Unit glyph coordinates (n, 2) -> cv2 fixed-point polygon.
        xy = np.asarray(unit, np.float64) @ rot.T * size + (cx, cy)
        return np.round(xy * scale).astype(np.int32)

    def disk(ux, uy, r):
        c = pts([[ux, uy]])[0]
        cv2.circle(canvas, (int(c[0]), int(c[1])), int(round(r * size * scale)), 255, -1,
                   cv2.LINE_AA, shift)  # fmt: skip

    def rect(hw, hh):
        return [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]]

    if glyph == "disk":
        disk(0, 0, 0.6)
    elif glyph == "ring":
        disk(0, 0, 0.85)
        c = pts([[0, 0]])[0]
        cv2.circle(canvas, (int(c[0]), int(c[1])), int(round(0.45 * size * scale)), 0, -1,
                   cv2.LINE_AA, shift)  # fmt: skip
    elif glyph == "triangle":
        tri = [[np.cos(a), np.sin(a)] for a in np.deg2rad([0, 120, 240])]
        cv2.fillPoly(canvas, [pts(tri)], 255, cv2.LINE_AA, shift)
    elif glyph == "square":
        cv2.fillPoly(canvas, [pts(rect(0.6, 0.6))], 255, cv2.LINE_AA, shift)
    elif glyph == "cross":
        cv2.fillPoly(canvas, [pts(rect(0.9, 0.22)), pts(rect(0.22, 0.9))], 255, cv2.LINE_AA, shift)
    elif glyph == "bar":
        cv2.fillPoly(canvas, [pts(rect(0.9, 0.28))], 255, cv2.LINE_AA, shift)
    elif glyph == "dots":
        disk(-0.5, 0, 0.35)
        disk(0.5, 0, 0.35)
    elif glyph == "star":
        ang = np.deg2rad(np.arange(10) * 36.0)
        rad = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
        star = np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=-1)  # (10, 2)
        cv2.fillPoly(canvas, [pts(star)], 255, cv2.LINE_AA, shift)
    else:
        raise ValueError(f"unknown glyph {glyph!r}")
    return canvas.astype(np.float32) / 255.0


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """CUB-style (x, y, w, h) of the pixels where ``mask`` is true."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)


def _union_extent(aspect, phi, rp, d):
    """Box of body (a=1, b=aspect) + part disk (radius rp at distance d) about the body centre."""
    ex = np.sqrt(np.cos(phi) ** 2 + (aspect * np.sin(phi)) ** 2)  # Rotated-ellipse half-extent.
    ey = np.sqrt(np.sin(phi) ** 2 + (aspect * np.cos(phi)) ** 2)
    px, py = d * np.cos(phi), d * np.sin(phi)
    return min(-ex, px - rp), max(ex, px + rp), min(-ey, py - rp), max(ey, py + rp)


# --------------------------------------------------------------------------- one image


def render_image(rng: np.random.Generator, spec: ClassSpec, specs: list[ClassSpec],
                 min_size: int, max_size: int, part_scale: float = 1.0):  # fmt: skip
    """Draws one image of class ``spec``.

    Args:
      rng: The image's own generator; all randomness comes from it.
      spec: Class of the object.
      specs: All classes, for the distractors' textures.
      min_size: Smallest image height / width in pixels.
      max_size: Largest image height / width in pixels.
      part_scale: Factor on the part's target share of the object box.

    Returns:
      (image, object_box, part_box): uint8 (H, W, 3) BGR image, CUB-style (x, y, w, h) ints.
    """
    height, width = (int(x) for x in rng.integers(min_size, max_size + 1, 2))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5  # (H, W) pixel centres

    # Pose in body units (long semi-axis a = 1), then one scale to hit the target box area.
    aspect = rng.uniform(0.45, 0.75)  # b / a
    target_obj = rng.uniform(*OBJECT_AREA_RANGE)
    target_part = rng.uniform(*PART_AREA_RANGE) * part_scale
    for _ in range(20):  # Re-draw the rotation when the object cannot reach its size.
        phi = rng.uniform(0.0, 2.0 * np.pi)
        rp = 0.2
        for _ in range(6):  # Fixed point: the part's radius changes the box it is a share of.
            d = 1.0 + 0.1 * rp  # Part centre just past the body's end: it sticks out like a head.
            x0, x1, y0, y1 = _union_extent(aspect, phi, rp, d)
            rp = 0.5 * np.sqrt(target_part * (x1 - x0) * (y1 - y0))
        d = 1.0 + 0.1 * rp
        x0, x1, y0, y1 = _union_extent(aspect, phi, rp, d)
        scale = np.sqrt(target_obj * height * width / ((x1 - x0) * (y1 - y0)))
        scale = min(scale, (width - 2) / (x1 - x0), (height - 2) / (y1 - y0))
        if scale**2 * (x1 - x0) * (y1 - y0) >= 0.9 * target_obj * height * width:
            break
    a, b, rp_px = scale, scale * aspect, scale * rp
    # 1-pixel margin; max() absorbs rounding when the scale was capped to fit exactly.
    left = 1.0 + rng.uniform(0.0, max(0.0, width - 2.0 - scale * (x1 - x0)))
    top = 1.0 + rng.uniform(0.0, max(0.0, height - 2.0 - scale * (y1 - y0)))
    cx, cy = left - scale * x0, top - scale * y0
    px, py = cx + scale * d * np.cos(phi), cy + scale * d * np.sin(phi)

    img = _background(rng, height, width).astype(np.float32)  # (H, W, 3)

    # Distractors: bodies of random classes without a part, drawn under the object.
    for _ in range(int(rng.integers(0, 3))):
        other = specs[int(rng.integers(len(specs)))]
        da = a * rng.uniform(0.4, 0.8)
        sd = _ellipse_sd(xx, yy, rng.uniform(0, width), rng.uniform(0, height), da,
                         da * rng.uniform(0.45, 0.8), rng.uniform(0, np.pi))  # fmt: skip
        alpha = _alpha(sd)[..., None]  # (H, W, 1)
        img += alpha * (_class_body_texture(xx, yy, rng, other) - img)

    body_sd = _ellipse_sd(xx, yy, cx, cy, a, b, phi)  # (H, W)
    img += _alpha(body_sd)[..., None] * (_class_body_texture(xx, yy, rng, spec) - img)

    part_sd = np.sqrt((xx - px) ** 2 + (yy - py) ** 2) - rp_px  # (H, W)
    part_colour = _hsv_to_bgr(
        spec.part_hue + rng.normal(0.0, 1.5), rng.uniform(215, 255), rng.uniform(200, 250)
    )
    img += _alpha(part_sd)[..., None] * (part_colour - img)
    glyph_colour = _hsv_to_bgr(spec.part_hue, 200, rng.uniform(15, 45))
    glyph = _glyph_mask(height, width, spec.glyph, px, py, 0.62 * rp_px, phi)[..., None]
    img += glyph * (glyph_colour - img)

    img += rng.normal(0.0, rng.uniform(3.0, 8.0), img.shape).astype(np.float32)
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)

    part_mask = part_sd <= 0.0  # Same 0.5-coverage level the alpha uses.
    obj_box = _tight_box(part_mask | (body_sd <= 0.0))
    return image, obj_box, _tight_box(part_mask)


# --------------------------------------------------------------------------- dataset


# Stream index of a class's train/test split; image streams use 0, 1, ... (never this high).
_SPLIT_STREAM = 2**32 - 1


def _image_rng(seed: int, class_index: int, index: int) -> np.random.Generator:
    """The generator of one image (or, with _SPLIT_STREAM, of a class's split)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, class_index, index])))


def _check_params(
    num_classes, train_per_class, test_per_class, seed, min_size, max_size, body_hue_noise,
    part_scale=1.0,
):  # fmt: skip
    if train_per_class < 0 or test_per_class < 0 or train_per_class + test_per_class < 1:
        raise ValueError("need train_per_class, test_per_class >= 0 and at least one image")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if not 32 <= min_size <= max_size:
        raise ValueError(f"need 32 <= min_size <= max_size, got {min_size}, {max_size}")
    if not 0.0 < part_scale <= 2.0:
        raise ValueError(f"part_scale must be in (0, 2], got part_scale={part_scale}")
    class_specs(num_classes, body_hue_noise)  # Validates num_classes and body_hue_noise.


def _fmt_box(i: int, box) -> str:
    return f"{i} " + " ".join(f"{float(v):.1f}" for v in box)


def generate(
    root,
    *,
    num_classes: int = DEFAULTS["num_classes"],
    train_per_class: int = DEFAULTS["train_per_class"],
    test_per_class: int = DEFAULTS["test_per_class"],
    seed: int = DEFAULTS["seed"],
    min_size: int = DEFAULTS["min_size"],
    max_size: int = DEFAULTS["max_size"],
    body_hue_noise: float = DEFAULTS["body_hue_noise"],
    part_scale: float = DEFAULTS["part_scale"],
) -> pathlib.Path:
    """Writes the dataset in the CUB_200_2011 layout into ``root``.

    The files are written into a temporary sibling folder that is renamed to ``root`` at the
    end, so ``root`` either does not exist or holds a complete dataset.

    Args:
      root: Output folder; must not exist or be empty.
      num_classes: Number of classes K (1..MAX_CLASSES).
      train_per_class: Training images per class.
      test_per_class: Test images per class.
      seed: Non-negative seed; the output is a function of all the parameters.
      min_size: Smallest image height / width, pixels.
      max_size: Largest image height / width, pixels (drawn independently per side).
      body_hue_noise: Std of the body hue around its class mean, in hue spacings (default
        0.5: neighbouring classes overlap). Lower values make the body's class evidence
        stronger, so a classifier can learn the whole object, not only the part.
      part_scale: Factor on the part's share of the object box (default 1: 5-10 %); 0.5
        gives a part half as large, a smaller shortcut.

    Returns:
      ``root`` as an absolute ``pathlib.Path``.

    Raises:
      FileExistsError: ``root`` exists and is not empty.
    """
    import cv2

    params = {
        "num_classes": num_classes,
        "train_per_class": train_per_class,
        "test_per_class": test_per_class,
        "seed": seed,
        "min_size": min_size,
        "max_size": max_size,
        "body_hue_noise": float(body_hue_noise),
        "part_scale": float(part_scale),
    }
    _check_params(**params)
    root = pathlib.Path(root).expanduser().absolute()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root} exists and is not empty")
    root.parent.mkdir(parents=True, exist_ok=True)
    specs = class_specs(num_classes, body_hue_noise)
    per_class = train_per_class + test_per_class

    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        lines = {k: [] for k in ("images", "labels", "split", "boxes", "parts")}
        image_id = 0
        for c, spec in enumerate(specs):
            folder = tmp / "images" / spec.name
            folder.mkdir(parents=True)
            # Which of the class's images are for training: its own stream, order-independent.
            is_train = np.zeros(per_class, bool)
            split_rng = _image_rng(seed, c, _SPLIT_STREAM)
            is_train[split_rng.permutation(per_class)[:train_per_class]] = True
            stem = spec.name.split(".", 1)[1]
            for j in range(per_class):
                image_id += 1
                image, obj_box, part_box = render_image(
                    _image_rng(seed, c, j), spec, specs, min_size, max_size, part_scale
                )
                rel = f"{spec.name}/{stem}_{j + 1:04d}.jpg"
                ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                if not ok:
                    raise RuntimeError(f"JPEG encoding failed for {rel}")
                (tmp / "images" / rel).write_bytes(buf.tobytes())
                lines["images"].append(f"{image_id} {rel}")
                lines["labels"].append(f"{image_id} {c + 1}")
                lines["split"].append(f"{image_id} {int(is_train[j])}")
                lines["boxes"].append(_fmt_box(image_id, obj_box))
                lines["parts"].append(_fmt_box(image_id, part_box))

        files = {
            "images.txt": lines["images"],
            "image_class_labels.txt": lines["labels"],
            "train_test_split.txt": lines["split"],
            "bounding_boxes.txt": lines["boxes"],
            "part_boxes.txt": lines["parts"],
            "classes.txt": [f"{c + 1} {s.name}" for c, s in enumerate(specs)],
        }
        for name, rows in files.items():
            (tmp / name).write_text("\n".join(rows) + "\n")
        (tmp / "README").write_text(_readme(params, image_id))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the dataset is ordinary data.
        if root.exists():
            root.rmdir()  # Empty (checked above); rename cannot replace it portably.
        os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def _readme(params: dict, num_images: int) -> str:
    lines = [
        "wsol_tf synthetic dataset (CUB_200_2011 layout), written by wsol_tf.data.synthetic.",
        f"generator VERSION = {VERSION}",
        "parameters: " + json.dumps(params, sort_keys=True),
        f"seed = {params['seed']}",
        f"images = {num_images} ({params['num_classes']} classes x "
        f"({params['train_per_class']} train + {params['test_per_class']} test))",
        f"object box / image area target = {OBJECT_AREA_RANGE}, "
        f"part box / object box area target = {PART_AREA_RANGE}",
        "",
        "Files: images.txt, image_class_labels.txt, train_test_split.txt (1 = train),",
        "bounding_boxes.txt (x y w h of body + part, pixels), classes.txt, and",
        "part_boxes.txt (x y w h of the discriminative part; not part of CUB).",
        "See the docstring of wsol_tf/data/synthetic.py for the design.",
    ]
    return "\n".join(lines) + "\n"


def cache_key(**params) -> str:
    """Folder name for a parameter set: version + short hash, e.g. ``synthetic-v1-1a2b3c4d5e``.

    Args:
      **params: Overrides of DEFAULTS.

    Returns:
      The folder name; differs whenever a parameter or VERSION differs.
    """
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown synthetic parameters: {sorted(unknown)}")
    full = {**DEFAULTS, **params, "version": VERSION}
    if full["part_scale"] == 1.0:
        del full["part_scale"]  # the key of every set made before part_scale existed
    digest = hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:10]
    return f"synthetic-v{VERSION}-{digest}"


CACHE_VARIABLE = "WSOL_TF_CACHE"


def default_cache_dir() -> pathlib.Path:
    """``$WSOL_TF_CACHE`` if set, else ``~/.cache/wsol_tf``."""
    env = os.environ.get(CACHE_VARIABLE)
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "wsol_tf"


def ensure_synthetic(cache_dir=None, **params) -> pathlib.Path:
    """Returns the folder of the synthetic dataset for ``params``, generating it if missing.

    Args:
      cache_dir: Parent folder of the cached datasets; default ``default_cache_dir()``.
      **params: Overrides of DEFAULTS (num_classes, train_per_class, ...).

    Returns:
      Absolute path of a complete dataset folder ``<cache_dir>/synthetic-v<VERSION>-<hash>``.
    """
    cache = pathlib.Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    root = (cache / cache_key(**params)).absolute()
    if (root / "README").is_file():  # The folder only appears complete (atomic rename).
        return root
    try:
        return generate(root, **{**DEFAULTS, **params})
    except OSError as error:  # FileExistsError included: a concurrent run may have renamed first.
        if (root / "README").is_file():  # Another process finished it first.
            return root
        if error.errno == errno.ENOSPC:
            raise  # named as a full disk where it was raised
        # Named by where the folder came from: the caller's, else the variable's or the default.
        where = cache_dir or (f"{CACHE_VARIABLE}={os.environ.get(CACHE_VARIABLE)}"
                              if os.environ.get(CACHE_VARIABLE) else cache)  # fmt: skip
        reason = error.strerror or str(error)
        raise OSError(f"{where}: cannot write the synthetic dataset there ({reason})") from None


def load_synthetic(cache_dir, split, **options):
    """A split of the default synthetic set (generated into `cache_dir` on first use; None:
    `default_cache_dir()`), read as the CUB layout it is; `options` are `load_cub`'s."""
    return load_cub(str(ensure_synthetic(cache_dir=cache_dir)), split, **options)


DATASETS.add(
    "synthetic",
    Dataset(
        load=load_synthetic,
        options=("val_per_class", "val_seed"),
        generator_key=cache_key,
    ),
)
