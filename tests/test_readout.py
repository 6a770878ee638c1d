"""The read-out chosen on validation (`--cam=auto`, wsol_tf.evaluation.readout): what it
compares, what it picks, where it is kept, and that evaluate/localize use it by default."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from wsol_tf.evaluation import readout
from wsol_tf.evaluation.extractors.spec import CamSpec
from wsol_tf.runs.config import TrainConfig


def test_the_candidates_are_the_fast_extractors_and_layer_cam_over_the_method_positions():
    from wsol_tf import models

    specs = readout.candidates(models.spec("efficientnet_lite0"))
    assert [s.name for s in specs] == ["classic", "gradcam", "gradcampp", "layercam",
                                       "eigencam", "layercam"]  # fmt: skip
    assert specs[-1].layers == ("block5c_add", "block6d_add", "features")
    assert readout.candidates(models.spec("tinyvgg"))[-1].layers == (
        "block2_pool", "block3_pool", "block4_conv2", "features")  # fmt: skip


def test_pick_takes_the_best_validation_maxboxacc_v2_and_the_first_of_equals():
    rows = [{"maxboxacc_v2": 60.0}, {"maxboxacc_v2": 70.0}, {"maxboxacc_v2": 70.0},
            {"maxboxacc_v2": None}]  # fmt: skip
    assert readout.pick(rows) == 1
    assert readout.pick([{"maxboxacc_v2": None}]) is None


def _choice(tmp_path, checkpoint="/moved/run/checkpoints/ckpt-48", threshold=0.35):
    path = tmp_path / readout.READOUT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = CamSpec("layercam", layers=("a", "b"))
    path.write_text(json.dumps({"checkpoint": checkpoint, "cam": spec.describe(),
                                "cam_spec": spec.to_dict(), "threshold": threshold}))  # fmt: skip
    return spec


def test_the_runs_choice_is_used_by_default_for_its_checkpoint_only(tmp_path):
    spec = _choice(tmp_path)
    work = str(tmp_path)
    used, threshold, source = readout.resolve(work, f"{work}/checkpoints/ckpt-48", CamSpec())
    assert used == spec and threshold == 0.35 and "readout.json" in source
    # --threshold overrides the threshold only.
    used, threshold, source = readout.resolve(work, "ckpt-48", CamSpec(), threshold=0.1)
    assert used == spec and threshold == 0.1 and "threshold: --threshold" in source
    # A --cam given is that extractor; another checkpoint has no choice.
    used, threshold, _ = readout.resolve(work, "ckpt-48", CamSpec("gradcam"), how="given")
    assert used == CamSpec("gradcam") and threshold == 0.2
    used, threshold, source = readout.resolve(work, "ckpt-40", CamSpec())
    assert used == CamSpec() and threshold == 0.2 and "--cam=auto` chooses one" in source


@pytest.mark.parametrize("content", ["{not json", "[1]", '{"cam_spec": {}}'])
def test_an_unreadable_choice_is_no_choice(tmp_path, content):
    (tmp_path / "eval_val").mkdir()
    (tmp_path / readout.READOUT_FILE).write_text(content)
    assert readout.read_choice(str(tmp_path), "ckpt-48") is None


def test_auto_on_a_run_without_a_validation_split_is_refused_naming_the_flag(tmp_path):
    TrainConfig(workdir=str(tmp_path)).save()
    with pytest.raises(ValueError, match="--val_per_class"):
        readout.resolve(str(tmp_path), "ckpt-1", CamSpec(), how="auto")


@pytest.fixture(scope="module")
def run_with_val(tiny_data, tmp_path_factory):
    from wsol_tf.training import api

    workdir = str(tmp_path_factory.mktemp("readout") / "run")
    config = TrainConfig(model="tinyvgg", method="cam", dataset="cub", data_dir=tiny_data,
                         image_size=(40, 56), batch_size=6, epochs=2, lr=0.05,
                         val_per_class=3, workdir=workdir, tensorboard=False)  # fmt: skip
    api.train(config, print_fn=lambda *a: None)
    return workdir


@pytest.mark.slow
def test_auto_chooses_on_val_and_evaluate_and_localize_use_the_choice(run_with_val, tmp_path):
    from wsol_tf.evaluation.api import evaluate

    specs = [CamSpec("classic"), CamSpec("gradcampp"), CamSpec("eigencam")]
    choice = readout.choose(run_with_val, specs=specs, print_fn=lambda *a: None)
    rows = choice["candidates"]
    assert [r["cam"] for r in rows] == ["classic", "gradcampp", "eigencam"]
    best = rows[readout.pick(rows)]
    assert choice["cam"] == best["cam"] and choice["threshold"] == best["threshold"]
    assert all(best["maxboxacc_v2"] >= r["maxboxacc_v2"] for r in rows)
    # Each row is the candidate's own validation evaluation, kept beside the choice.
    for row in rows:
        with open(os.path.join(run_with_val, row["metrics"])) as f:
            kept = json.load(f)
        assert kept["split"] == "val" and kept["maxboxacc_v2"] == row["maxboxacc_v2"]
    # evaluate by default: the chosen extractor at the chosen threshold (test split).
    metrics = evaluate(run_with_val, out_dir=str(tmp_path / "eval"), cam=CamSpec(),
                       cam_threshold=None, readout="default", num_pictures=0,
                       print_fn=lambda *a: None)  # fmt: skip
    assert metrics["cam_spec"] == choice["cam_spec"]
    assert metrics["cam_threshold"] == pytest.approx(choice["threshold"])
    assert "readout.json" in metrics["readout"]
    # localize says which read-out it used.
    image = tmp_path / "bird.png"
    import cv2

    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (50, 70, 3), np.uint8))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", "wsol_tf.localize", f"--workdir={run_with_val}",
                           str(image)], capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"read-out: {choice['cam']} and threshold: the run's validation choice" in done.stderr
    # A second choice for the same checkpoint is reused, not recomputed.
    again = readout.choose(run_with_val, specs=[CamSpec("classic")], reuse=True,
                           print_fn=lambda *a: None)  # fmt: skip
    assert again == choice


@pytest.mark.slow
def test_a_reproduced_run_gets_its_read_out_added_once_without_training(run_with_val):
    from wsol_tf.reproduction.runner import RESULT_FILE, add_readout

    config = TrainConfig.load(run_with_val)
    result = add_readout(config, {"top1_clas": 1.0}, print_fn=lambda *a: None)
    with open(os.path.join(run_with_val, readout.READOUT_FILE)) as f:
        choice = json.load(f)
    assert result["readout"]["cam"] == choice["cam"]
    assert result["readout"]["threshold"] == choice["threshold"]
    for key in ("top1_clas", "gt_known_loc", "top1_loc", "maxboxacc_v2"):
        assert 0.0 <= result["readout"][key] <= 100.0
    with open(os.path.join(run_with_val, RESULT_FILE)) as f:
        assert json.load(f)["readout"] == result["readout"]
    # Read back, not recomputed; a diverged run or one without val gets none.
    assert add_readout(config, result) is result
    assert "readout" not in add_readout(config, {"diverged": "nan"})


@pytest.mark.slow
def test_train_chooses_the_read_out_at_its_end_when_the_run_has_a_val_split(tiny_data, tmp_path):
    workdir = tmp_path / "run"
    args = [sys.executable, "-m", "wsol_tf.train", "--model=tinyvgg", "--method=cam",
            "--dataset=cub", f"--data_dir={tiny_data}", "--image_size=40,56",
            "--batch_size=6", "--epochs=1", "--val_per_class=2", f"--workdir={workdir}",
            "--notensorboard"]  # fmt: skip
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([*args, "--nochoose_readout"], capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (workdir / readout.READOUT_FILE).exists()
    # Run again (the run is finished: nothing is trained) with the default: it chooses.
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "chosen read-out:" in done.stdout
    choice = json.loads((workdir / readout.READOUT_FILE).read_text())
    assert choice["split"] == "val" and len(choice["candidates"]) == 6
