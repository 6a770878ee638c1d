"""The method seam: a method added in one file trains and evaluates from the CLI; the
refactor changed no number; registry, params and flags are one source of truth."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from wsol_tf import methods
from wsol_tf.data import synthetic
from wsol_tf.runs.config import TrainConfig

TOY_METHOD = textwrap.dedent(
    '''
    """Random erasing of one input square per image: a toy method in one file."""
    import dataclasses

    from wsol_tf.methods import Method, param, register
    from wsol_tf.methods.base import check, check_probability, cross_entropy


    @dataclasses.dataclass(frozen=True)
    class RandomEraseParams:
        probability: float = param(0.5, "Chance that an image gets one erased square.")
        size: int = param(8, "Side of the erased square, pixels.")

        def validate(self, method_name):
            check_probability("random_erase_probability", self.probability)
            check(self.size >= 1, "random_erase_size", self.size, ">= 1")
            return self


    @register
    class RandomErase(Method):
        name = "random_erase"
        Params = RandomEraseParams

        def augment(self, batch, seeds):
            import tensorflow as tf

            images = batch["image"]
            shape = tf.shape(images)
            size = self.params.size
            draws = tf.map_fn(
                lambda s: tf.random.stateless_uniform([3], s), seeds, fn_output_signature=tf.float32
            )
            y = tf.cast(draws[:, 0] * tf.cast(shape[1] - size + 1, tf.float32), tf.int32)
            x = tf.cast(draws[:, 1] * tf.cast(shape[2] - size + 1, tf.float32), tf.int32)
            on = draws[:, 2] < self.params.probability
            rows = tf.range(shape[1])[None, :, None]
            cols = tf.range(shape[2])[None, None, :]
            inside = (
                (rows >= y[:, None, None]) & (rows < y[:, None, None] + size)
                & (cols >= x[:, None, None]) & (cols < x[:, None, None] + size)
                & on[:, None, None]
            )
            erased = tf.where(inside[..., None], tf.zeros_like(images), images)
            fraction = tf.reduce_mean(tf.cast(inside, tf.float32), axis=[1, 2])
            return {**batch, "image": erased, "erased_fraction": fraction}

        def loss(self, outputs, batch):
            return cross_entropy(batch["label"], outputs["logits"]), {
                "erased_fraction": batch["erased_fraction"]
            }
    '''
)


def _run(args, env=None, timeout=600):
    result = subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_a_method_in_one_file_trains_two_steps_from_the_cli_and_is_evaluated(tmp_path):
    toy = tmp_path / "random_erase.py"
    toy.write_text(TOY_METHOD)
    data = tmp_path / "tiny"
    synthetic.generate(
        data, num_classes=3, train_per_class=8, test_per_class=4, seed=3, min_size=40, max_size=64
    )
    workdir = tmp_path / "run"
    env = {methods.EXTRA_MODULES_VARIABLE: str(toy)}
    _run(
        [
            "wsol_tf.train", "--method=random_erase", "--random_erase_probability=1.0",
            "--random_erase_size=8", "--dataset=cub", f"--data_dir={data}", "--epochs=2",
            "--steps_per_epoch=1", "--batch_size=4", "--image_size=32,48", "--notensorboard",
            f"--workdir={workdir}",
        ],
        env,
    )  # fmt: skip
    config = json.loads((workdir / "config.json").read_text())
    assert config["method"] == "random_erase"
    assert config["method_params"] == {"probability": 1.0, "size": 8}
    log = json.loads((workdir / "train_log.json").read_text())
    assert [e["step"] for e in log] == [1, 2]
    # Every image lost one 8x8 square of its 32x48 input: the hooks ran in the loop.
    for epoch in log:
        assert epoch["erased_fraction"] == pytest.approx(64 / (32 * 48), rel=1e-6)
    result = _run(["wsol_tf.evaluate", f"--workdir={workdir}", "--num_pictures=2"], env)
    headline = json.loads(result.stdout.strip().splitlines()[-1])
    assert headline["num_images"] == 12
    assert 0 <= headline["gt_known_loc"] <= 100
    assert (workdir / "overlays.png").is_file()


# Losses of 3 training steps (one step per epoch) before the method seam, measured with the
# pre-refactor code (commit facc5c4) by the command in the test below: the refactor moved no
# number (it matched them bit for bit on the development machine, side by side).
#
# Bit-identity holds on one machine only: oneDNN picks other kernels on other CPUs (AVX2,
# AVX-512, AMX), which sum in another order. So the stored numbers are checked with tolerances
# measured by rerunning the command on one machine under other kernels (ONEDNN_MAX_CPU_ISA=AVX2
# and SSE41, TF_ENABLE_ONEDNN_OPTS=0): step 1 (the forward pass of the initial weights) moved
# by at most 1.2e-7 relative, so STEP1_RTOL = 1e-5 leaves 80x; after updates the drift grows
# (CAM 9e-5 at step 3) and ADL's thresholded drop mask flips pixels on it (2.9e-3 at step 3,
# AVX-512 against the stored numbers), so LATER_RTOL = 1e-2 leaves 3x. What the test is for
# still fails it (measured with ADL): --seed=1 moves step 1 by 8e-2, --lr=0.045 step 3 by 5.5e-2.
LOSSES_BEFORE_SEAM = {
    "adl": [1.9775487184524536, 2.4872498512268066, 3.236955404281616],
    "cam": [1.9390619993209839, 3.3474173545837402, 6.752620220184326],
}
STEP1_RTOL = 1e-5
LATER_RTOL = 1e-2


@pytest.fixture(scope="module")
def synthetic_cache(tmp_path_factory):
    """One cache of the default synthetic set for both methods (generated by the first)."""
    return tmp_path_factory.mktemp("synthetic_cache")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["adl", "cam"])
def test_three_steps_give_the_losses_of_the_code_before_the_seam(method, tmp_path, synthetic_cache):
    workdir = tmp_path / method
    _run(
        [
            "wsol_tf.train", "--model=tinyvgg", "--dataset=synthetic",
            f"--data_dir={synthetic_cache}", f"--method={method}", "--epochs=3",
            "--steps_per_epoch=1", "--batch_size=8", "--image_size=64,80", "--notensorboard",
            "--deterministic", "--lr=0.05", f"--workdir={workdir}",
        ]
    )  # fmt: skip
    losses = [e["loss"] for e in json.loads((workdir / "train_log.json").read_text())]
    expected = LOSSES_BEFORE_SEAM[method]
    np.testing.assert_allclose(losses[0], expected[0], rtol=STEP1_RTOL)
    np.testing.assert_allclose(losses[1:], expected[1:], rtol=LATER_RTOL)


def test_registry_lists_cam_first_and_refuses_unknown_names():
    assert methods.names()[0] == "cam" and "adl" in methods.names()
    with pytest.raises(ValueError, match="method='has_not'.*valid methods: cam"):
        methods.get("has_not")


def test_method_params_come_from_flag_or_field_names_and_are_validated_once():
    config = TrainConfig.from_settings(method="adl", drop_rate=0.5, adl_variant="drop_mask_only")
    assert config.method_params == {"drop_rate": 0.5, "variant": "drop_mask_only"}
    with pytest.raises(ValueError, match="--drop_rate applies to --method=adl, not --method=cam"):
        TrainConfig.from_settings(method="cam", drop_rate=0.5)
    with pytest.raises(ValueError, match="drop_rate=1.5 is invalid"):
        TrainConfig.from_settings(method="adl", drop_rate=1.5).validate()
    with pytest.raises(ValueError, match="inserts nothing at backbone positions"):
        TrainConfig.from_settings(method="cam", positions=["block1_pool"]).validate()


def test_every_enum_is_validated_from_its_field_choices():
    for field, bad in (("lr_schedule", "linear"), ("precision", "int8"), ("strategy", "tpu")):
        with pytest.raises(ValueError, match=f"--{field}={bad}: valid: "):
            TrainConfig.from_settings(**{field: bad}).validate()


def test_config_json_round_trip_and_legacy_adl_fields(tmp_path):
    config = TrainConfig.from_settings(method="adl", gamma=0.7, workdir=str(tmp_path))
    config.save()
    assert TrainConfig.load(str(tmp_path)) == config
    legacy = json.loads((tmp_path / "config.json").read_text())
    del legacy["method_params"]
    legacy.update({"drop_rate": 0.25, "gamma": 0.6, "adl_variant": "both"})
    (tmp_path / "config.json").write_text(json.dumps(legacy))
    loaded = TrainConfig.load(str(tmp_path))
    assert loaded.method_params == {"drop_rate": 0.25, "gamma": 0.6, "variant": "both"}


def test_every_variable_of_a_methods_head_is_new_for_the_learning_rate_groups():
    from wsol_tf import models
    from wsol_tf.training.schedules import lr_multipliers

    # ACoL's head convs are named acol_*: new because they are in the head, not by name.
    model = models.build("tinyvgg", 3, method="acol", image_size=(32, 48))
    head = {id(v) for v in model.head.trainable_variables}
    multipliers = lr_multipliers(model, "new_10")
    rates = {id(v): m for v, m in zip(model.trainable_variables, multipliers, strict=True)}
    assert model.get_layer("acol_b_conv2") is not None and len(head) == 12
    assert all(rates[i] == 10.0 for i in head)
    assert rates[id(model.get_layer("block1_conv1_conv").kernel)] == 1.0
