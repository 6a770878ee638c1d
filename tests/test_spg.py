"""SPG: guidance masks from a fixed map against numpy; which map guides which branch; taps."""

import numpy as np
import pytest
import tensorflow as tf

from wsol_tf import methods, models
from wsol_tf.layers.spg import guidance_masks
from wsol_tf.runs.config import TrainConfig

IGNORE = 255.0


def _numpy_mask(attention, high, low):
    """wsolevaluation's get_mask, written over: 255 = ignore, 1 = foreground, 0 = background."""
    mask = np.full(attention.shape, IGNORE)
    for i, a in enumerate(attention):
        fg = a > high
        if fg.sum() < 30:
            fg = a > a.max() * 0.7
        mask[i][fg] = 1.0
    mask[attention < low] = 0.0
    return mask


def _as_mask(target, valid):
    return np.where(valid.numpy() > 0, target.numpy(), IGNORE)


def _fixed_maps():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:24, 0:32]
    # Peak 0.9: 21 pixels above 0.7 (< 30), 37 above the fallback 0.7 * 0.9.
    blob = 0.9 * np.exp(-((yy - 10.0) ** 2 + (xx - 20.0) ** 2) / 30.0)
    return np.stack(
        [
            rng.uniform(0, 1, (24, 32)),  # many pixels above the high threshold
            blob,  # fewer than 30 above 0.7 at 24 x 32: the 0.7 * max fallback
            0.4 * blob,  # none above the high threshold at all
            np.zeros((24, 32)),  # all background
        ]
    ).astype(np.float32)


@pytest.mark.parametrize("high, low", [(0.7, 0.01), (0.5, 0.05), (0.7, 0.1), (0.2, 0.3)])
def test_guidance_masks_match_numpy_on_a_fixed_map(high, low):
    maps = _fixed_maps()
    got = _as_mask(*guidance_masks(tf.constant(maps), high, low))
    np.testing.assert_array_equal(got, _numpy_mask(maps, high, low))
    if (high, low) == (0.7, 0.01):
        assert (maps[1] > 0.7).sum() == 21 and (got[1] == 1).sum() == 37
        assert (got == IGNORE).any() and (got == 0).any() and (got == 1).any()


def test_each_side_branch_learns_the_mask_of_its_guide():
    """loss_b2 from the normalized GT CAM, loss_b1 from sigmoid(B2), loss_c from the fused
    sigmoid(B1), sigmoid(B2); per image, mean BCE over valid pixels. The maps are already at
    the input size, so the bilinear upsampling is the identity."""
    method = methods.create("spg", positions=("a", "b"))
    rng = np.random.default_rng(3)
    h, w = 24, 32
    outputs = {
        k: rng.normal(0, 2, (2, h, w)).astype(np.float32) for k in ("spg_b1", "spg_b2", "spg_c")
    }
    outputs["spg_cam"] = rng.normal(0, 1, (2, h, w)).astype(np.float32) * 5 + 3
    outputs["logits"] = rng.normal(size=(2, 3)).astype(np.float32)
    batch = {"image": tf.zeros((2, h, w, 3)), "label": tf.constant([2, 0])}
    loss, logs = method.loss({k: tf.constant(v) for k, v in outputs.items()}, batch)

    def bce(logits, guide, high, low):
        mask = _numpy_mask(guide, high, low)
        valid = mask != IGNORE
        terms = (
            np.maximum(logits, 0)
            - logits * np.where(valid, mask, 0)
            + np.log1p(np.exp(-np.abs(logits)))
        )
        return (terms * valid).sum(axis=(1, 2)) / np.maximum(valid.sum(axis=(1, 2)), 1)

    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    cam = outputs["spg_cam"]
    low, span = cam.min(axis=(1, 2), keepdims=True), np.ptp(cam, axis=(1, 2), keepdims=True)
    attention = (cam - low) / span
    b1, b2, c = outputs["spg_b1"], outputs["spg_b2"], outputs["spg_c"]
    expected = {
        "loss_b2": bce(b2, attention, 0.7, 0.01),
        "loss_b1": bce(b1, sig(b2), 0.5, 0.05),
        "loss_c": bce(c, (sig(b1) + sig(b2)) / 2, 0.7, 0.1),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(logs[name].numpy(), value, rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(loss.numpy(), sum(v.numpy() for v in logs.values()), rtol=1e-6)


def test_side_branches_tap_the_declared_positions_and_the_map_is_the_classifiers_cam():
    model = models.build("tinyvgg", 3, method="spg", image_size=(32, 48))
    assert model.method.positions == ("block3_pool", "block4_conv2")
    images = tf.random.stateless_uniform((2, 32, 48, 3), (1, 1), 0, 255)
    out = model(images, training=False)
    assert out["spg_b1"].shape == (2, 4, 6) and out["spg_c"].shape == (2, 4, 6)
    assert set(out["taps"]) == {"block3_pool", "block4_conv2"}
    assert model.get_layer("spg_b1a").kernel.shape == (3, 3, 128, 128)  # half of 256
    kernel = model.get_layer("classifier").kernel.numpy()
    cam = np.einsum("bhwk,k->bhw", out["features"].numpy(), kernel[:, 1])
    maps = model.head.class_maps(out["features"], tf.constant([1, 1])).numpy()
    np.testing.assert_allclose(maps, cam, rtol=1e-4, atol=1e-4)


def test_backbones_without_side_branch_positions_fail_with_the_flag_named():
    with pytest.raises(ValueError, match="no default side-branch positions for --model=mobilenet"):
        TrainConfig.from_settings(model="mobilenetv1", method="spg").validate()
    config = TrainConfig.from_settings(
        model="mobilenetv1", method="spg", positions=("conv_pw_5_relu", "conv_pw_11_relu")
    ).validate()
    assert config.make_method().tap_outputs(None) == ("conv_pw_5_relu", "conv_pw_11_relu")
    with pytest.raises(ValueError, match="takes exactly two positions"):
        TrainConfig.from_settings(method="spg", positions=("block3_pool",)).validate()
    with pytest.raises(ValueError, match="--spg_threshold_2h=1.5"):
        methods.create("spg", {"threshold_2h": 1.5}, positions=("a", "b"))
    for name in ("inceptionv3", "vgg16gap", "resnet50", "resnet50se", "tinyvgg"):
        TrainConfig.from_settings(model=name, method="spg").validate()


@pytest.fixture(scope="module")
def tiny_cub(tmp_path_factory):
    from wsol_tf.data import synthetic

    root = tmp_path_factory.mktemp("spg") / "tiny"
    synthetic.generate(root, num_classes=3, train_per_class=4, test_per_class=1, seed=5,
                       min_size=40, max_size=64)  # fmt: skip
    return str(root)


def _trained(data, workdir, steps, **params):
    """(initial, trained) {variable path: value} after `steps` SGD steps of tinyvgg SPG at
    new_10 (Nesterov momentum, L2 in the loss: the defaults)."""
    from wsol_tf.data.datasets import load_split
    from wsol_tf.training.distribute import make_strategy
    from wsol_tf.training.trainer import Trainer

    config = TrainConfig.from_settings(
        model="tinyvgg", dataset="cub", data_dir=data, method="spg", epochs=1,
        steps_per_epoch=steps, batch_size=4, lr=0.01, lr_groups="new_10", image_size=(32, 48),
        seed=7, tensorboard=False, workdir=str(workdir), **params,
    ).validate()  # fmt: skip
    records = load_split("cub", data, "train")
    trainer = Trainer.from_config(
        config, records, make_strategy("one_device", 0), print_fn=lambda *_: None
    )
    variables = trainer.model.trainable_variables
    start = {v.path: v.numpy() for v in variables}
    trainer.train()
    return start, {v.path: v.numpy() for v in variables}


def test_branch_lr_factor_default_trains_bit_for_bit_as_without_it(tiny_cub, tmp_path):
    assert methods.create("spg", positions=("a", "b")).lr_factors() == {}
    _, plain = _trained(tiny_cub, tmp_path / "plain", 2)
    _, given = _trained(tiny_cub, tmp_path / "given", 2, spg_branch_lr_factor=1.0)
    assert plain.keys() == given.keys()
    for path, value in plain.items():
        np.testing.assert_array_equal(given[path], value, err_msg=path)


def test_branch_lr_factor_scales_only_the_side_branches_step(tiny_cub, tmp_path):
    """One step from the same start: the first step's gradients do not depend on the
    factor, so the spg_* variables move exactly half as far and the rest identically."""
    start, full = _trained(tiny_cub, tmp_path / "full", 1)
    start_half, half = _trained(tiny_cub, tmp_path / "half", 1, spg_branch_lr_factor=0.5)
    branches = [p for p in start if "/spg_" in p]
    assert len(branches) == 12 and any("classifier" in p for p in start)
    for path, value in start.items():
        np.testing.assert_array_equal(start_half[path], value, err_msg=path)
        if path in branches:
            step, half_step = full[path] - value, half[path] - value
            assert np.abs(step).max() > 0, path
            np.testing.assert_allclose(half_step, 0.5 * step, rtol=1e-3, atol=1e-7, err_msg=path)
        else:
            np.testing.assert_array_equal(half[path], full[path], err_msg=path)


def test_branch_lr_factor_enters_the_learning_rate_groups_and_is_validated():
    """The factor multiplies the new-layer group's rate of the spg_* layers (so GroupedAdam's
    per-variable rates get it too); classifier and backbone keep their group's."""
    from wsol_tf.training.schedules import lr_multipliers

    model = models.build("tinyvgg", 3, method="spg", image_size=(32, 48), branch_lr_factor=0.1)
    assert model.method.lr_factors() == {"spg_": 0.1}
    rates = lr_multipliers(model, "new_30", layer_factors=model.method.lr_factors())
    by_path = {v.path: r for v, r in zip(model.trainable_variables, rates, strict=True)}
    assert {r for p, r in by_path.items() if "/spg_" in p} == {30.0 * 0.1}
    assert by_path[model.get_layer("classifier").kernel.path] == 30.0
    assert by_path[model.get_layer("block1_conv1_conv").kernel.path] == 1.0
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match=f"--spg_branch_lr_factor={bad}"):
            methods.create("spg", {"branch_lr_factor": bad}, positions=("a", "b"))
