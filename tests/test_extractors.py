"""Every score-map extractor against a plain numpy reference, on a tiny model with known
weights (8 x 12 input: non-square; a batch of 3), plus layer fusion, test-time
augmentation, Score-CAM's cap and batching, constant or NaN maps, and the option errors.
The registry is the list: every registered extractor gets the batch and dead-map tests, and
an extractor defined in one temporary module registers, takes the flags and evaluates."""

import importlib.util
import os
import pkgutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from wsol_tf.evaluation import extractors
from wsol_tf.evaluation.boxes import box_from_scoremap
from wsol_tf.evaluation.extractors import EXTRACTORS, CamSpec, ScoreMapper

H, W = 8, 12  # input; layer "a" is 8 x 12 x 4, "features" 4 x 6 x 5; 3 classes


def tiny_model(seed=0, zero=False):
    import keras

    from wsol_tf import methods
    from wsol_tf.models.wsol_model import WSOLModel

    inputs = keras.Input((H, W, 3), name="image")
    a = keras.layers.Conv2D(4, 1, activation="relu", name="a")(inputs)
    pooled = keras.layers.AveragePooling2D(2, name="pool")(a)
    features = keras.layers.Conv2D(5, 1, activation="relu", name="features")(pooled)
    backbone = keras.Model(inputs, features, name="tiny")
    method = methods.create("cam")
    model = WSOLModel(backbone, method.build_head(3), method, 3)
    rng = np.random.default_rng(seed)
    weights = {
        "a": [rng.normal(0, 0.01, (1, 1, 3, 4)), rng.normal(0, 0.5, 4)],
        "features": [rng.normal(0, 0.6, (1, 1, 4, 5)), rng.normal(0, 0.3, 5)],
        "classifier": [rng.normal(0, 1.0, (5, 3)), rng.normal(0, 0.1, 3)],
    }
    if zero:
        weights = {k: [np.zeros_like(v) for v in vs] for k, vs in weights.items()}
    for name, values in weights.items():
        model.get_layer(name).set_weights([v.astype(np.float32) for v in values])
    return model, {k: [v.astype(np.float64) for v in vs] for k, vs in weights.items()}


def images(n=3, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (n, H, W, 3)).astype(np.float32)


# --- numpy reference --------------------------------------------------------------------


def relu(x):
    return np.maximum(x, 0.0)


def forward(w, x):
    """Activations and logits of the tiny model in float64."""
    x = np.asarray(x, np.float64)
    a = relu(x @ w["a"][0][0, 0] + w["a"][1])  # (B, 8, 12, 4)
    b = a.shape[0]
    pooled = a.reshape(b, H // 2, 2, W // 2, 2, 4).mean(axis=(2, 4))  # (B, 4, 6, 4)
    z = pooled @ w["features"][0][0, 0] + w["features"][1]
    f = relu(z)  # (B, 4, 6, 5)
    logits = f.mean(axis=(1, 2)) @ w["classifier"][0] + w["classifier"][1]
    return {"a": a, "features": f, "z": z, "logits": logits}


def gradients(w, x, classes):
    """d logit_c / d (layer output) at "features" and "a", by the chain rule."""
    out = forward(w, x)
    f = out["features"]
    g_f = np.broadcast_to(w["classifier"][0][:, classes].T[:, None, None, :], f.shape)
    g_f = g_f / (f.shape[1] * f.shape[2])
    g_pool = (g_f * (out["z"] > 0)) @ w["features"][0][0, 0].T  # (B, 4, 6, 4)
    g_a = np.repeat(np.repeat(g_pool, 2, axis=1), 2, axis=2) / 4.0  # average pooling
    return out, {"features": np.array(g_f), "a": g_a}


def axis_matrix(n_in, n_out):
    """Bilinear resampling matrix (half-pixel centers, edge clamped), (n_out, n_in)."""
    x = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    low = np.floor(x).astype(int)
    high = np.minimum(low + 1, n_in - 1)
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), low] += 1 - (x - low)
    m[np.arange(n_out), high] += x - low
    return m


def resize(maps, size):
    """(B, h, w[, c]) -> (B, H, W[, c]) bilinear."""
    my, mx = axis_matrix(maps.shape[1], size[0]), axis_matrix(maps.shape[2], size[1])
    if maps.ndim == 4:
        return np.einsum("Yy,byxc,Xx->bYXc", my, maps, mx)
    return np.einsum("Yy,byx,Xx->bYX", my, maps, mx)


def minmax(maps):
    out = np.zeros_like(maps)
    for i, m in enumerate(maps):
        if np.isfinite(m).all() and m.max() > m.min():
            out[i] = (m - m.min()) / (m.max() - m.min())
    return out


def ref_gradcam(a, g):
    return np.einsum("bhwk,bk->bhw", a, g.mean(axis=(1, 2)))


def ref_gradcampp(a, g):
    g2, g3 = g**2, g**3
    denominator = 2 * g2 + a.sum(axis=(1, 2), keepdims=True) * g3
    ok = (g != 0) & (denominator != 0)
    alpha = np.where(ok, g2 / np.where(ok, denominator, 1), 0)
    weights = (alpha * relu(g)).sum(axis=(1, 2))
    return relu(np.einsum("bhwk,bk->bhw", a, weights))


def ref_layercam(a, g):
    return relu((relu(g) * a).sum(axis=-1))


def ref_eigencam(a):
    b, h, w, k = a.shape
    out = []
    for flat in a.reshape(b, h * w, k):
        centered = flat - flat.mean(axis=0)
        v = np.linalg.svd(centered, full_matrices=False)[2][0]
        v = -v if v.sum() < 0 else v
        out.append(relu(centered @ v).reshape(h, w))
    return np.stack(out)


def ref_scorecam(w, x, a, classes, cap):
    b, _, _, k = a.shape
    n = k if cap == 0 else min(k, cap)
    out = []
    for i in range(b):
        order = np.argsort(-a[i].var(axis=(0, 1)), kind="stable")[:n]
        weights = np.zeros(k)
        for c in order:
            mask = minmax(resize(a[i : i + 1, :, :, c], (H, W)))[0]
            logits = forward(w, x[i : i + 1] * mask[..., None])["logits"][0]
            probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            weights[c] = probs[classes[i]]
        out.append(relu(np.einsum("hwk,k->hw", a[i], weights)))
    return np.stack(out)


def ref_fuse(maps):
    size = (max(m.shape[1] for m in maps), max(m.shape[2] for m in maps))
    return np.max([resize(np.tanh(2.0 * minmax(m)), size) for m in maps], axis=0)


# The numpy reference of each extractor that reads layers: fn(w, x, a, g, classes, cap).
REFERENCES = {
    "gradcam": lambda w, x, a, g, classes, cap: ref_gradcam(a, g),
    "gradcampp": lambda w, x, a, g, classes, cap: ref_gradcampp(a, g),
    "layercam": lambda w, x, a, g, classes, cap: ref_layercam(a, g),
    "eigencam": lambda w, x, a, g, classes, cap: ref_eigencam(a),
    "scorecam": lambda w, x, a, g, classes, cap: ref_scorecam(w, x, a, classes, cap),
}


def ref_maps(name, w, x, classes, layers=("features",), cap=64):
    out, grads = gradients(w, x, classes)
    reference = REFERENCES[name]
    per_layer = [reference(w, x, out[k], grads[k], classes, cap) for k in layers]
    return out["logits"], per_layer[0] if len(per_layer) == 1 else ref_fuse(per_layer)


def run(model, cam, x, classes):
    logits, maps = extractors.build(cam)(model, tf.constant(x), classes)
    return logits.numpy().astype(np.float64), maps.numpy().astype(np.float64)


def assert_maps_close(got, expected):
    scale = max(1e-6, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-5 * scale)


# --- tests ------------------------------------------------------------------------------


def test_the_numpy_references_name_registered_extractors_that_read_layers():
    assert set(REFERENCES) <= set(extractors.uses_layers())


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_extractor_matches_numpy_on_the_feature_map(name):
    model, w = tiny_model()
    x = images()
    expected_logits = forward(w, x)["logits"]
    top1 = expected_logits.argmax(axis=1)
    for classes in (np.array([2, 0, 1]), None):
        wanted = top1 if classes is None else classes
        logits, maps = run(model, CamSpec(name, scorecam_max_channels=3), x, classes)
        ref_logits, ref = ref_maps(name, w, x, wanted, cap=3)
        np.testing.assert_allclose(logits, ref_logits, rtol=1e-4, atol=1e-4)
        assert maps.shape == (3, 4, 6)
        assert ref.max() > ref.min() + 1e-6, "a degenerate reference tests nothing"
        assert_maps_close(maps, ref)


def test_classic_is_the_head_weights_on_the_features():
    model, w = tiny_model()
    x = images()
    _, maps = run(model, "classic", x, np.array([1, 1, 0]))
    f = forward(w, x)["features"]
    assert_maps_close(maps, np.einsum("bhwk,kb->bhw", f, w["classifier"][0][:, [1, 1, 0]]))


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_two_layers_are_fused_as_layer_cam_does(name):
    model, w = tiny_model()
    x = images()
    classes = np.array([0, 2, 1])
    spec = CamSpec(name, layers=("a", "features"), scorecam_max_channels=0, scorecam_batch_size=5)
    _, maps = run(model, spec, x, classes)
    _, ref = ref_maps(name, w, x, classes, layers=("a", "features"), cap=0)
    assert maps.shape == (3, H, W)  # the larger layer's size
    assert_maps_close(maps, ref)
    # One named layer: that layer's map, unfused.
    _, single = run(model, CamSpec(name, layers=("a",), scorecam_max_channels=0), x, classes)
    assert_maps_close(single, ref_maps(name, w, x, classes, layers=("a",), cap=0)[1])


def test_scorecam_batch_size_does_not_change_the_map_and_the_cap_does():
    model, _ = tiny_model()
    x = images()
    classes = np.array([1, 0, 2])
    maps = [
        run(model, CamSpec("scorecam", scorecam_batch_size=b, scorecam_max_channels=4), x, classes)[
            1
        ]
        for b in (1, 5, 64)
    ]
    assert_maps_close(maps[0], maps[1])
    assert_maps_close(maps[0], maps[2])
    capped = run(model, CamSpec("scorecam", scorecam_max_channels=1), x, classes)[1]
    assert not np.allclose(capped, maps[0])


def zoom_ref(x, scale):
    """numpy twin of extractors.zoom."""
    size = (H, W)
    scaled = [max(1, round(scale * s)) for s in size]
    out = resize(x.astype(np.float64), scaled)
    fill = x.mean(axis=(1, 2), keepdims=True)
    for axis, (m, n) in enumerate(zip(scaled, size, strict=True), start=1):
        if m >= n:
            out = np.take(out, np.arange((m - n) // 2, (m - n) // 2 + n), axis=axis)
        else:
            pad = [(0, 0)] * 4
            pad[axis] = ((n - m) // 2, n - m - (n - m) // 2)
            out = np.pad(out - fill, pad) + fill
    return out


def unzoom_ref(maps, scale):
    size = (H, W)
    scaled = [max(1, round(scale * s)) for s in size]
    out = [maps, np.ones_like(maps)]
    for axis, (m, n) in enumerate(zip(scaled, size, strict=True), start=1):
        for i in range(2):
            if m >= n:
                pad = [(0, 0)] * 3
                pad[axis] = ((m - n) // 2, m - n - (m - n) // 2)
                out[i] = np.pad(out[i], pad)
            else:
                out[i] = np.take(out[i], np.arange((n - m) // 2, (n - m) // 2 + m), axis=axis)
    return resize(out[0], size), resize(out[1], size)


def test_tta_averages_flips_and_zooms_in_the_input_frame():
    model, w = tiny_model()
    x = images()
    classes = np.array([2, 2, 0])
    spec = CamSpec("classic", smooth="tta", tta_scales=(0.75, 1.0, 1.25))
    _, maps = run(model, spec, x, classes)

    def classic(view):
        f = forward(w, view)["features"]
        return np.einsum("bhwk,kb->bhw", f, w["classifier"][0][:, classes])

    total = resize(minmax(classic(x)), (H, W))
    weight = np.ones_like(total)
    for scale in (1.0, 0.75, 1.25):
        for flip in (False, True) if scale != 1.0 else (True,):
            view = zoom_ref(x, scale) if scale != 1.0 else x.astype(np.float64)
            view = view[:, :, ::-1] if flip else view
            m = resize(minmax(classic(view)), (H, W))
            m = m[:, :, ::-1] if flip else m
            seen = np.ones_like(m)
            if scale != 1.0:
                m, seen = unzoom_ref(m, scale)
            total, weight = total + m * seen, weight + seen
    assert maps.shape == (3, H, W)
    assert_maps_close(maps, total / weight)


# Every registered extractor (Score-CAM's options matter to it only), plus fusion and TTA.
SPECS = [
    *(CamSpec(name, scorecam_batch_size=4, scorecam_max_channels=3) for name in EXTRACTORS),
    CamSpec("layercam", layers=("a", "features")),
    CamSpec("gradcampp", smooth="tta", tta_scales=(0.8, 1.2)),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
def test_a_batch_gives_each_images_own_map(spec):
    model, _ = tiny_model()
    x = images(4, seed=5)
    classes = np.array([0, 1, 2, 1])
    _, together = run(model, spec, x, classes)
    for i in range(4):
        _, alone = run(model, spec, x[i : i + 1], classes[i : i + 1])
        assert_maps_close(alone[0], together[i])


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
def test_constant_or_nan_maps_give_zeros_and_no_box(spec):
    from wsol_tf.evaluation.cam import normalize_scoremap, upsample_scoremaps

    for model, x in (
        (tiny_model(zero=True)[0], images(2)),  # every activation constant
        (tiny_model()[0], np.full((2, H, W, 3), np.nan, np.float32)),  # NaN everywhere
    ):
        if spec.name == "classic" and spec.smooth == "none":  # the evaluator's own path once
            _, maps = ScoreMapper(model, spec)(x, np.array([0, 1]))
        else:  # eager: the same post-processing without tracing
            _, raw = extractors.build(spec)(model, tf.constant(x), np.array([0, 1]))
            maps = normalize_scoremap(upsample_scoremaps(raw.numpy(), (H, W)))
        assert maps.shape == (2, H, W)
        assert np.isfinite(maps).all() and not maps.any()
        assert box_from_scoremap(maps[0], 0.2).tolist() == [0, 0, 0, 0]


def test_options_are_refused_naming_their_flag():
    bad = [
        (dict(name="nope"), "--cam=nope"),
        (dict(name="classic", layers=("a",)), "--cam_layers"),
        (dict(smooth="blur"), "--cam_smooth"),
        (dict(tta_scales=(1.0, -2.0)), "--cam_tta_scales"),
        (dict(tta_scales="1,x"), "--cam_tta_scales"),
        (dict(name="scorecam", scorecam_batch_size=0), "--scorecam_batch_size"),
        (dict(scorecam_max_channels=-1), "--scorecam_max_channels"),
        (dict(name="gradcam", layers=("a", "a")), "--cam_layers"),
    ]
    for kwargs, flag in bad:
        with pytest.raises(ValueError, match=flag):
            CamSpec(**kwargs).validate()
    model, _ = tiny_model()
    with pytest.raises(ValueError, match="--cam_layers: 'nope' is not a layer of the tiny"):
        ScoreMapper(model, CamSpec("gradcam", layers=("a", "nope")))
    spec = extractors.resolve({"name": "gradcam", "layers": "a, features", "tta_scales": "0.5,1"})
    assert spec == CamSpec("gradcam", layers=("a", "features"), tta_scales=(0.5, 1.0))
    assert extractors.resolve("cam").name == "classic"
    assert CamSpec.from_flags({"cam": "layercam", "cam_layers": ["a"]}).describe() == (
        "layercam(layers=a)"
    )


# --- one module per extractor -----------------------------------------------------------


def test_each_module_of_the_package_registers_the_extractor_it_is_named_after():
    modules = [
        m.name
        for m in pkgutil.iter_modules(extractors.__path__)
        if m.name not in extractors.SEAM_MODULES and not m.name.startswith("_")
    ]
    assert sorted(modules) == sorted(EXTRACTORS.names())
    for name in modules:
        assert EXTRACTORS.get(name).fn.__module__ == f"wsol_tf.evaluation.extractors.{name}"
    assert EXTRACTORS.names()[0] == "classic" and extractors.names()[-1] == "cam"
    with pytest.raises(ValueError, match=r"Unknown --cam='nope'; valid extractors: classic, "):
        EXTRACTORS.get("nope")


TOY_EXTRACTOR = textwrap.dedent(
    '''
    """Channel mean of the activations: a toy extractor in one module."""
    from wsol_tf.evaluation.extractors.base import forward, fuse_layers
    from wsol_tf.evaluation.extractors.spec import register


    @register("channelmean", describe=lambda spec: ["toy"])
    def channelmean(model, images, classes, spec):
        import tensorflow as tf

        outputs, acts = forward(model, images, spec.layers)
        maps = [tf.reduce_mean(tf.cast(a, tf.float32), axis=-1) for a in acts]
        return outputs["logits"], fuse_layers(maps)
    '''
)


@pytest.fixture
def toy_extractor(tmp_path):
    path = tmp_path / "channelmean.py"
    path.write_text(TOY_EXTRACTOR)
    spec = importlib.util.spec_from_file_location("wsol_tf_test_channelmean", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    yield "channelmean"
    EXTRACTORS.remove("channelmean")


def test_an_extractor_in_one_module_registers_takes_the_flags_and_evaluates(toy_extractor):
    from absl import flags

    from wsol_tf.evaluation.cam import normalize_scoremap, upsample_scoremaps
    from wsol_tf.evaluation.flags import cam_from_flags, define_cam_flags

    values = flags.FlagValues()
    define_cam_flags(values)
    values(["evaluate", f"--cam={toy_extractor}", "--cam_layers=a"])
    spec = cam_from_flags(values)
    assert spec.describe() == "channelmean(layers=a; toy)"
    assert toy_extractor in extractors.uses_layers()
    model, w = tiny_model()
    x = images()
    classes = np.array([2, 0, 1])
    logits, maps = ScoreMapper(model, toy_extractor)(x, classes)  # the evaluator's path
    expected = forward(w, x)
    np.testing.assert_allclose(logits, expected["logits"], rtol=1e-4, atol=1e-4)
    ref = normalize_scoremap(upsample_scoremaps(expected["features"].mean(axis=-1), (H, W)))
    assert ref.max() == 1.0, "a degenerate reference tests nothing"
    np.testing.assert_allclose(maps, ref, atol=1e-5)
    _, at_a = run(model, spec, x, classes)
    assert_maps_close(at_a, expected["a"].mean(axis=-1))


def test_names_specs_and_flags_need_no_tensorflow(no_tensorflow):
    script = textwrap.dedent(
        """
        import sys
        from absl import flags
        from wsol_tf.evaluation import extractors
        from wsol_tf.evaluation.flags import cam_from_flags, define_cam_flags

        values = flags.FlagValues()
        define_cam_flags(values)
        values(["evaluate", "--cam=scorecam", "--cam_layers=a,b", "--cam_smooth=tta"])
        print(cam_from_flags(values).describe(), ",".join(extractors.names()))
        try:
            extractors.CamSpec("classic", layers=("a",)).validate()
        except ValueError as error:
            print(error)
        assert "tensorflow" not in sys.modules
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        env={**os.environ, **no_tensorflow},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = result.stdout.splitlines()
    assert first == (
        "scorecam(layers=a,b; smooth=tta(0.75,1,1.25); max_channels=64) "
        "classic,eigencam,gradcam,gradcampp,layercam,scorecam,cam"
    )
    assert second.startswith("--cam_layers=a is invalid with --cam=classic")
