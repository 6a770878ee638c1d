"""The pseudo-box localizer (PSOL): boxes in the evaluator's coordinates, the flip moving the
box, the box metrics by hand, the command end to end on a tiny run, `localize` and `export` on
its folder, and the refusals (before TensorFlow loads where they can be)."""

import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from wsol_tf.evaluation.boxes import gt_boxes_for_input
from wsol_tf.pseudo_box import api, manifest, pseudo_labels, scoring
from wsol_tf.pseudo_box.geometry import input_to_original, normalize

IMAGE_SIZE = (32, 48)  # non-square on purpose


def run_cli(*args, env=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=300
    )


class _Batch:
    def __init__(self, rows, labels):
        self.rows, self.labels, self.images = np.asarray(rows), np.asarray(labels), None


def test_pseudo_boxes_are_the_evaluators_boxes():
    # A 32 x 48 input cut from a 72 x 108 image resized to 36 x 54, center crop at x 3, y 2.
    resize_size, original_hw = (36, 54), (72, 108)
    blob = np.zeros(IMAGE_SIZE)
    blob[3:10, 5:30] = 1.0  # rows 3..9, columns 5..29
    blob[20:22, 40:42] = 0.5  # a smaller blob: not the largest contour
    maps = np.stack([blob, np.zeros(IMAGE_SIZE)])  # the second map is flat: no box

    def mapper(images, classes):
        return None, maps

    found = pseudo_labels.draw(
        mapper, [_Batch([7, 9], [1, 2])], 0.2, lambda row: original_hw, IMAGE_SIZE,
        resize_size, print_fn=lambda *_: None,
    )  # fmt: skip
    # The evaluator's box: cv2's x + w, one past the last column (and row).
    np.testing.assert_array_equal(found.boxes, [[5, 3, 30, 10]])
    np.testing.assert_array_equal(found.rows, [7])
    np.testing.assert_array_equal(found.rows_empty, [9])
    # In the original image: shift by the crop, scale by 108 / 54 = 72 / 36 = 2.
    np.testing.assert_allclose(found.original, [[16, 10, 66, 24]])
    # The evaluator's GT geometry takes it back to the same input pixels.
    back = gt_boxes_for_input(found.original, original_hw, IMAGE_SIZE, resize_size)
    np.testing.assert_array_equal(back, found.boxes)
    # A plain resize (eval_resize=resize): no offset.
    np.testing.assert_allclose(
        input_to_original([5, 3, 30, 10], (64, 96), IMAGE_SIZE, IMAGE_SIZE), [10, 6, 60, 20]
    )


def test_the_flip_moves_the_box(tmp_path):
    import tensorflow as tf

    from wsol_tf.data.records import Records
    from wsol_tf.pseudo_box.regressor import train_batches

    height, width = 20, 30  # non-square, and no crop (resize_size == image_size)
    image = np.zeros((height, width, 3), np.uint8)
    image[5:15, 3:9] = (255, 0, 0)  # red object: columns 3..8, rows 5..14
    path = str(tmp_path / "a.png")
    cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    records = Records(
        [path], np.array([0], np.int32), np.array([[[3, 5, 9, 15]]], np.float32),
        np.array([1], np.int32), [1], ["a"],
    )  # fmt: skip
    kept = normalize([3, 5, 9, 15], (height, width))
    flipped = normalize([width - 9, 5, width - 3, 15], (height, width))  # x -> W - x
    seen = set()
    for epoch in range(12):
        (images, targets), *_ = list(
            train_batches(records, image_size=(height, width), resize_size=(height, width),
                          batch_size=1, seed=3, epoch=epoch)
        )  # fmt: skip
        target = targets.numpy()[0]
        red = np.argwhere(images.numpy()[0, :, :, 0] > 128)  # (y, x) of the object
        x0, y0, x1, y1 = target * [width, height, width, height]
        assert red[:, 1].min() >= x0 - 0.5 and red[:, 1].max() < x1 + 0.5
        assert red[:, 0].min() >= y0 - 0.5 and red[:, 0].max() < y1 + 0.5
        if np.allclose(target, kept, atol=1e-6):
            seen.add("kept")
        else:
            np.testing.assert_allclose(target, flipped, atol=1e-6)
            assert red[:, 1].min() == 21 and red[:, 1].max() == 26
            seen.add("flipped")
        if len(seen) == 2:
            break
    assert seen == {"kept", "flipped"}
    assert isinstance(targets, tf.Tensor)


def test_box_metrics_and_giou_by_hand():
    predicted = np.array([[0, 0, 9, 9], [0, 0, 9, 9], [20, 20, 29, 29]])
    gts = [
        np.array([[50, 50, 60, 60], [0, 0, 9, 9]]),  # the best of two GT boxes: IoU 1
        np.array([[0, 0, 9, 19]]),  # 100 / 200 = 0.5 (+1 pixel convention)
        np.array([[25, 20, 34, 29]]),  # 50 / 150 = 1/3
    ]
    np.testing.assert_allclose(scoring.best_ious(predicted, gts), [1.0, 0.5, 1 / 3])
    metrics = scoring.box_metrics(predicted, gts, labels=[0, 1, 2], predictions=[0, 0, 2])
    assert metrics["box_accuracy"] == pytest.approx({"0.3": 100.0, "0.5": 200 / 3, "0.7": 100 / 3})
    assert metrics["gt_known_loc"] == pytest.approx(200 / 3)
    assert metrics["top1_clas"] == pytest.approx(200 / 3)
    assert metrics["top1_loc"] == pytest.approx(100 / 3)  # image 1 is located, wrong class
    assert scoring.box_metrics(predicted, gts, [0, 1, 2], None)["top1_loc"] is None

    import tensorflow as tf

    from wsol_tf.pseudo_box.regressor import giou, to_input_pixels

    a = tf.constant([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    b = tf.constant([[0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 3.0, 1.0]])
    np.testing.assert_allclose(giou(a, b).numpy(), [1.0, -1 / 3], atol=1e-6)
    box = np.array([[5, 3, 30, 10], [0, 0, 47, 31]])
    np.testing.assert_array_equal(to_input_pixels(normalize(box, IMAGE_SIZE), IMAGE_SIZE), box)


@pytest.fixture(scope="module")
def wsol_run(tmp_path_factory):
    """A tiny CAM run (one step) with a val split, and a read-out chosen "on validation"
    (written by hand: classic at 0.3) for its checkpoint."""
    from wsol_tf import training
    from wsol_tf.data import synthetic
    from wsol_tf.evaluation.extractors import CamSpec
    from wsol_tf.runs.checkpoints import kept_checkpoints
    from wsol_tf.runs.config import TrainConfig

    data = tmp_path_factory.mktemp("data") / "tiny"
    synthetic.generate(data, num_classes=3, train_per_class=6, test_per_class=2, seed=2,
                       min_size=40, max_size=64)  # fmt: skip
    workdir = tmp_path_factory.mktemp("run") / "w"
    config = TrainConfig.from_settings(
        model="tinyvgg", dataset="cub", data_dir=str(data), method="cam", epochs=1,
        steps_per_epoch=1, batch_size=4, image_size=IMAGE_SIZE, val_per_class=2, seed=1,
        workdir=str(workdir), log_every=100, tensorboard=False,
    )  # fmt: skip
    training.train(config, print_fn=lambda _: None)
    checkpoint = kept_checkpoints(str(workdir / "checkpoints"))[0]
    (workdir / "eval_val").mkdir(exist_ok=True)
    (workdir / "eval_val" / "readout.json").write_text(json.dumps({
        "checkpoint": checkpoint, "cam": "classic", "threshold": 0.3,
        "cam_spec": CamSpec("classic").to_dict(),
    }))  # fmt: skip
    return str(workdir)


@pytest.fixture(scope="module")
def pseudo_box_dir(wsol_run, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("pbox") / "out")
    done = run_cli(
        "wsol_tf.pseudo_box", f"--run={wsol_run}", f"--out={out}", "--epochs=1",
        "--batch_size=4", "--steps_per_epoch=2", "--lrs=0.01,0.001", "--num_pictures=4",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pseudo-box lr_0.01 epoch 1/1 step" in done.stdout  # progress lines
    headline = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(headline) >= {"top1_clas", "gt_known_loc", "top1_loc", "box_accuracy"}
    return out


def test_the_command_writes_metrics(pseudo_box_dir, wsol_run):
    from wsol_tf.data.datasets import load_split

    metrics = json.loads(open(os.path.join(pseudo_box_dir, "metrics.json")).read())
    for key in ("top1_clas", "gt_known_loc", "top1_loc", "train_seconds"):
        assert isinstance(metrics[key], float), key
    assert set(metrics["box_accuracy"]) == {"0.3", "0.5", "0.7"}
    assert metrics["gt_known_loc"] == metrics["box_accuracy"]["0.5"]
    assert metrics["maxboxacc_v2"] is None and "one box per image" in metrics["maxboxacc_v2_reason"]
    assert metrics["num_boxes_used"] == 0 and metrics["split"] == "test"
    assert metrics["num_images"] == 6  # 3 classes x 2 test images
    source = metrics["pseudo_boxes"]
    assert source["threshold"] == 0.3 and "validation choice" in source["readout"]
    assert source["split"] == "train" and source["num_images"] == 12  # 6 - 2 held out, x 3
    assert source["num_boxes"] + source["num_empty"] == 12
    assert [t["name"] for t in metrics["trials"]] == ["lr_0.01", "lr_0.001"]
    chosen = max(metrics["trials"], key=lambda t: t["val_gt_known_loc"])
    assert metrics["chosen"] == chosen["name"]
    assert os.path.isfile(os.path.join(pseudo_box_dir, "overlays.png"))
    # Drawn on the run's training images only, never on its val split.
    boxes = json.loads(open(os.path.join(pseudo_box_dir, "pseudo_boxes.json")).read())["boxes"]
    config = json.loads(open(os.path.join(wsol_run, "config.json")).read())
    val = load_split("cub", config["data_dir"], "val", val_per_class=2)
    assert boxes and not {b["image"] for b in boxes} & set(val.image_paths)
    found = manifest.read_manifest(pseudo_box_dir)
    assert found["regressor"].endswith(os.path.join("trials", metrics["chosen"], "regressor"))


def test_localize_and_export_give_the_regressors_box(pseudo_box_dir, wsol_run, tmp_path):
    import tensorflow as tf

    from wsol_tf.data.datasets import load_split
    from wsol_tf.pseudo_box import serving
    from wsol_tf.pseudo_box.regressor import predict_boxes, to_input_pixels

    config = json.loads(open(os.path.join(wsol_run, "config.json")).read())
    image_path = load_split("cub", config["data_dir"], "test").image_paths[0]
    done = run_cli(
        "wsol_tf.localize", f"--workdir={pseudo_box_dir}", f"--out={tmp_path / 'o'}", image_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pseudo-box regressor" in done.stderr
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert line["box_found"] is True and line["cam_threshold"] is None
    height, width = line["size"]
    x0, y0, x1, y1 = line["box"]
    assert 0 <= x0 <= x1 < width and 0 <= y0 <= y1 < height
    assert os.path.isfile(line["overlay"])

    classifier, regressor, _ = serving.load(pseudo_box_dir)
    saved = str(tmp_path / "saved")
    serving.export(classifier, regressor, saved, ["a", "b", "c"])
    serve = tf.saved_model.load(saved).signatures["serving_default"]
    from wsol_tf.deployment.localizer import read_image

    image = read_image(image_path)[None]
    out = {k: v.numpy() for k, v in serve(images=image).items()}
    assert set(out) == set(serving.OUTPUTS)  # the CAM export's names, without "cam"
    resized = tf.image.resize(image, IMAGE_SIZE)
    expected = to_input_pixels(predict_boxes(regressor, resized), IMAGE_SIZE).numpy()
    np.testing.assert_array_equal(out["box"], expected)
    np.testing.assert_array_equal(out["box_original"][0], line["box"])  # localize's box
    scores = tf.nn.softmax(classifier(resized, training=False)["logits"]).numpy()
    np.testing.assert_allclose(out["scores"], scores, rtol=1e-4, atol=1e-6)
    assert [c["index"] for c in line["top_classes"]][0] == int(out["classes"][0])


def test_a_checkpoint_typo_is_refused_before_an_earlier_localizer_is_touched(
    wsol_run, pseudo_box_dir, tmp_path, no_tensorflow
):
    # Was: pseudo_box.json and metrics.json of the localizer in --out were deleted, then the
    # missing checkpoint named (a folder `localize` no longer reads).
    kept = tmp_path / "kept"
    shutil.copytree(pseudo_box_dir, kept)
    before = sorted(p.name for p in kept.iterdir())
    typo = os.path.join(wsol_run, "checkpoints", "ckpt-99")
    done = run_cli("wsol_tf.pseudo_box", f"--run={wsol_run}", f"--out={kept}",
                   f"--checkpoint={typo}", env=no_tensorflow)  # fmt: skip
    assert done.returncode == 2 and f"--checkpoint={typo}: no file" in done.stderr, done.stderr
    assert sorted(p.name for p in kept.iterdir()) == before


def test_bad_inputs_are_named(wsol_run, pseudo_box_dir, tmp_path, no_tensorflow):
    out = str(tmp_path / "out")
    cases = [
        (dict(run_workdir=None), "--run is required"),
        (dict(run_workdir=str(tmp_path / "none")), "--run="),
        (dict(trials=[{"lr": -1}]), "--lrs"),
        (dict(trials=[]), "--lrs"),
        (dict(epochs=0), "--epochs=0"),
        (dict(out_dir=wsol_run), "the WSOL run's folder"),
    ]
    for change, message in cases:
        args = {"run_workdir": wsol_run, "out_dir": out, **change}
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            api.check_inputs(args.pop("run_workdir"), args.pop("out_dir"), **args)
    no_val = tmp_path / "no_val"
    shutil.copytree(wsol_run, no_val)
    config = json.loads((no_val / "config.json").read_text())
    (no_val / "config.json").write_text(json.dumps({**config, "val_per_class": 0}))
    with pytest.raises(ValueError, match="--val_per_class"):
        api.check_inputs(str(no_val), out)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="notes.txt"):
        api.check_inputs(wsol_run, str(tmp_path / "busy"))
    # The commands refuse before TensorFlow loads (it cannot be imported here).
    env = {**no_tensorflow}
    done = run_cli("wsol_tf.pseudo_box", f"--run={wsol_run}", f"--out={out}", "--lrs=x", env=env)
    assert done.returncode == 2 and "--lrs: 'x' is not a number" in done.stderr
    done = run_cli(
        "wsol_tf.localize", f"--workdir={pseudo_box_dir}", "--cam=gradcam", "a.jpg", env=env
    )
    assert done.returncode == 2 and "pseudo-box localizer" in done.stderr, done.stderr
    assert "--cam do not apply" in done.stderr
    broken = tmp_path / "broken"
    shutil.copytree(pseudo_box_dir, broken)
    shutil.rmtree(broken / "trials")
    done = run_cli("wsol_tf.export", f"--workdir={broken}", f"--out={tmp_path / 's'}", env=env)
    assert done.returncode == 2, done.stderr
    assert "the regressor" in done.stderr and "pseudo_box.json" in done.stderr
