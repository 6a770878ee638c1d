"""End to end on a tiny generated dataset: train, checkpoint, resume, evaluate, CLI errors."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import CUB_MINI, needs_cub_mini

from wsol_tf import evaluation, training
from wsol_tf.data import synthetic
from wsol_tf.runs.config import TrainConfig

IMAGE_SIZE = (32, 48)  # non-square on purpose


def tiny_config(data_dir, workdir, **overrides):
    settings = dict(
        model="tinyvgg",
        dataset="cub",
        data_dir=data_dir,
        method="adl",
        epochs=2,
        batch_size=8,
        lr=0.01,
        image_size=IMAGE_SIZE,
        seed=3,
        workdir=str(workdir),
        log_every=1,
    )
    settings.update(overrides)
    return TrainConfig.from_settings(**settings)


def final_weights(workdir):
    from wsol_tf import models
    from wsol_tf.runs.checkpoints import restore_model
    from wsol_tf.training.trainer import latest_checkpoint

    config = TrainConfig.load(workdir)
    model = models.build(config.model, 3, method=config.method, image_size=config.image_size)
    restore_model(model, latest_checkpoint(workdir))
    return model.get_weights()


@pytest.mark.slow
def test_train_then_evaluate(tiny_data, tmp_path):
    lines = []
    history = training.train(tiny_config(tiny_data, tmp_path / "run"), print_fn=lines.append)
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(np.isfinite(h["loss"]) and 0 <= h["accuracy"] <= 100 for h in history)
    assert any("img/s" in line and "loss" in line for line in lines)
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints"))[0] == "checkpoint"
    with open(tmp_path / "run" / "train_log.json") as f:
        assert json.load(f) == history

    metrics = evaluation.evaluate(str(tmp_path / "run"), print_fn=lambda _: None)
    assert metrics["num_images"] == 12
    for key in ("top1_clas", "gt_known_loc", "top1_loc"):
        assert 0.0 <= metrics[key] <= 100.0
    assert metrics["top1_loc"] <= min(metrics["top1_clas"], metrics["gt_known_loc"])
    with open(tmp_path / "run" / "metrics.json") as f:
        assert json.load(f)["top1_loc"] == metrics["top1_loc"]
    grid = cv2.imread(metrics["overlays"])
    assert grid.shape == (8 * IMAGE_SIZE[0], 3 * IMAGE_SIZE[1], 3)


@pytest.mark.slow
def test_resume_after_an_epoch_equals_an_uninterrupted_run(tiny_data, tmp_path):
    training.train(tiny_config(tiny_data, tmp_path / "straight"), print_fn=lambda _: None)
    training.train(tiny_config(tiny_data, tmp_path / "resumed", epochs=1), print_fn=lambda _: None)
    lines = []
    history = training.train(tiny_config(tiny_data, tmp_path / "resumed"), print_fn=lines.append)
    assert any(line.startswith("Resumed from") for line in lines)
    assert [h["epoch"] for h in history] == [1, 2]
    straight = final_weights(str(tmp_path / "straight"))
    resumed = final_weights(str(tmp_path / "resumed"))
    for a, b in zip(straight, resumed, strict=True):
        np.testing.assert_array_equal(a, b)


def run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize(
    "flag,message",
    [
        ("--gamma=1.5", "--gamma=1.5 is invalid"),
        ("--drop_rate=-0.2", "--drop_rate=-0.2 is invalid"),
        (
            "--model=vgg99",
            "valid backbones: efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, "
            "inceptionv3, mobilenetv1, resnet50, resnet50se, tinyvgg",
        ),
        ("--adl_positions=block9_pool", "valid positions: block1_conv2"),
        ("--dataset=coco", "--dataset=coco: valid: synthetic, cub"),
    ],
)
def test_train_cli_refuses_bad_flags_before_reading_data(flag, message, tmp_path):
    result = run_cli("wsol_tf.train", flag, f"--workdir={tmp_path / 'w'}")
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "w").exists()


def test_config_refuses_an_unknown_adl_variant():
    with pytest.raises(ValueError, match="adl_variant='drop'.*drop_mask_only"):
        TrainConfig.from_settings(adl_variant="drop").validate()
    config = TrainConfig.from_settings(adl_variant="importance_map_only").validate()
    assert config.method_params["variant"] == "importance_map_only"


@pytest.mark.parametrize(
    "command, expected",
    [
        ("wsol_tf.train", ["--method:", "--drop_rate:", "--positions:", "resume:", "--fork_from:"]),
        ("wsol_tf.evaluate", ["--split:", "--cam:", "--cam_layers:", "--scorecam_max_channels:"]),
        ("wsol_tf.localize", ["--threshold:", "--cam:", "--cam_smooth:"]),
        ("wsol_tf.export", ["--out:", "--cam:", "--cam_tta_scales:"]),
    ],
)
def test_help_lists_the_commands_flags(command, expected):
    """README: `python -m wsol_tf.train --help` lists the methods with their flags; the flags
    defined beside the command (train_flags, evaluation.flags) are listed too."""
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr  # was 1 (absl's): a script saw a failure
    for flag in expected:
        assert flag in result.stdout + result.stderr, flag


def test_evaluate_cli_names_a_missing_workdir(tmp_path):
    result = run_cli("wsol_tf.evaluate", f"--workdir={tmp_path / 'nothing'}")
    assert result.returncode == 2
    assert "config.json not found" in result.stderr


def run_cli_script(script, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=300
    )


@needs_cub_mini
@pytest.mark.slow
def test_train_and_evaluate_on_wsol_metadata_records_with_image_sizes(tmp_path):
    # wsol_metadata (like imagenet) records carry image_sizes: evaluation must subset them too.
    config = TrainConfig.from_settings(
        model="tinyvgg", dataset="wsol_metadata", data_dir=CUB_MINI, method="cam", epochs=1,
        batch_size=50, image_size=(32, 48), seed=1, workdir=str(tmp_path / "w"),
        tensorboard=False,
    )  # fmt: skip
    training.train(config, print_fn=lambda *_: None)
    metrics = evaluation.evaluate(
        str(tmp_path / "w"), cam_curve_interval=0.01, print_fn=lambda _: None
    )
    assert metrics["num_images"] == 243 and metrics["dataset"] == "wsol_metadata"
    assert 0 <= metrics["maxboxacc_v2"] <= 100


def test_train_cli_names_a_missing_dataset_file(tmp_path):
    result = run_cli(
        "wsol_tf.train", "--dataset=cub", f"--data_dir={tmp_path / 'no_cub'}",
        f"--workdir={tmp_path / 'w'}",
    )  # fmt: skip
    assert result.returncode == 2
    assert "missing images.txt" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_held_out_val_split_is_validated_each_epoch_and_evaluable(tiny_data, tmp_path):
    config = tiny_config(
        tiny_data, tmp_path / "val", epochs=1, val_per_class=2, val_split="val", batch_size=6
    )
    history = training.train(config, print_fn=lambda *_: None)
    assert history[0]["step"] == 3  # 24 - 3 classes x 2 held out = 18 images / 6
    assert "val_gt_known_loc" in history[0]
    metrics = evaluation.evaluate(str(tmp_path / "val"), split="val", print_fn=lambda _: None)
    assert metrics["num_images"] == 6 and metrics["split"] == "val"


@pytest.mark.slow
def test_folder_dataset_trains_and_evaluate_explains_it_has_no_boxes(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(4):
            image = rng.integers(0, 255, (30 + i, 40, 3), dtype=np.uint8)
            cv2.imwrite(str(tmp_path / "photos" / name / f"{i}.jpg"), image)
    config = TrainConfig.from_settings(
        model="tinyvgg", dataset="folder", data_dir=str(tmp_path / "photos"), epochs=1,
        batch_size=4, image_size=IMAGE_SIZE, workdir=str(tmp_path / "w"), tensorboard=False,
    )  # fmt: skip
    history = training.train(config, print_fn=lambda *_: None)
    assert history[0]["step"] == 2
    with pytest.raises(ValueError, match="has no boxes or masks"):
        evaluation.evaluate(str(tmp_path / "w"), split="train", print_fn=lambda _: None)


@pytest.mark.slow
def test_a_corrupt_image_is_skipped_counted_and_named_in_the_run_json(tmp_path):
    data = tmp_path / "data"
    synthetic.generate(
        data, num_classes=3, train_per_class=8, test_per_class=4, seed=4, min_size=40, max_size=64
    )
    paths = dict(line.split() for line in (data / "images.txt").read_text().splitlines())
    split_lines = (data / "train_test_split.txt").read_text().splitlines()
    is_train = dict(line.split() for line in split_lines)
    first_train = next(i for i in paths if is_train[i] == "1")
    broken = data / "images" / paths[first_train]
    broken.write_bytes(broken.read_bytes()[:40])  # a truncated JPEG
    config = tiny_config(str(data), tmp_path / "w", epochs=1)
    history = training.train(config, print_fn=lambda *_: None)
    assert history[0]["num_unreadable_files"] >= 1
    with open(tmp_path / "w" / "unreadable_files.json") as f:
        assert str(broken) in [entry["path"] for entry in json.load(f)["skipped"]]
