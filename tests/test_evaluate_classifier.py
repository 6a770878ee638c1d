"""`python -m wsol_tf.evaluate --model=... --dataset=imagenet`: an ImageNet classifier evaluated
as it is, with no training run (issue 29)."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ILSVRC_MINI, needs_ilsvrc_mini


def run_evaluate(*args, env=None):
    environ = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run([sys.executable, "-m", "wsol_tf.evaluate", *args], capture_output=True,
                          text=True, env=environ, timeout=600)  # fmt: skip


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model=tinyvgg", "--dataset=imagenet", "--out_dir=o"],
         "--model=tinyvgg: no ImageNet head to evaluate without a run; backbones with one: "
         "efficientnet_lite0"),
        (["--model=efficientnet_lite0", "--out_dir=o"], "--model needs --dataset"),
        (["--model=efficientnet_lite0", "--workdir=w"], "not with --workdir"),
        (["--model=efficientnet_lite0", "--dataset=imagenet", "--cam=auto"], "--cam=auto"),
        (["--model=efficientnet_lite0", "--dataset=imagenet", "--data_dir=/no/such/dir",
          "--out_dir=o"], "/no/such/dir"),
    ],
)  # fmt: skip
def test_bad_classifier_flags_are_refused_in_one_line_before_tensorflow(
    args, message, no_tensorflow, tmp_path
):
    done = run_evaluate(*args, env=no_tensorflow)
    assert done.returncode == 2, done.stderr[-1500:]
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@needs_ilsvrc_mini
def test_lite0_is_evaluated_on_imagenet_images_with_its_own_head(tmp_path):
    """Six real validation images in the ILSVRC layout: the ImageNet head classifies them
    (Lite0 is 82% top-1 on the 1,300), and every WSOL metric is computed."""
    root = tmp_path / "ilsvrc"
    (root / "val").mkdir(parents=True)
    (root / "bbox_val").mkdir()
    shutil.copy(os.path.join(ILSVRC_MINI, "LOC_synset_mapping.txt"), root)
    names = sorted(os.listdir(os.path.join(ILSVRC_MINI, "val")))[:6]
    for name in names:
        shutil.copy(os.path.join(ILSVRC_MINI, "val", name), root / "val")
        stem = os.path.splitext(name)[0]
        shutil.copy(os.path.join(ILSVRC_MINI, "bbox_val", f"{stem}.xml"), root / "bbox_val")
    out = tmp_path / "out"
    done = run_evaluate("--model=efficientnet_lite0", "--dataset=imagenet",
                        f"--data_dir={root}", f"--out_dir={out}", "--cam=gradcampp",
                        "--num_pictures=2")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    headline = json.loads(done.stdout.strip().splitlines()[-1])
    assert headline["num_images"] == 6 and headline["cam"] == "gradcampp"
    assert headline["top1_clas"] >= 50.0  # 82% on the 1,300: 3 of 6 right is far below
    for key in ("gt_known_loc", "top1_loc", "maxboxacc_v2"):
        assert 0.0 <= headline[key] <= 100.0
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["split"] == "val" and metrics["model"] == "efficientnet_lite0"
    assert metrics["weights"].endswith(".pth") and os.path.isfile(out / "overlays.png")
