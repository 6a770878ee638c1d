"""Evaluation end to end on a tiny generated set: saved score maps in and out, Grad-CAM,
pictures, and the refusals (bad score maps, bad boxes, a checkpoint that does not fit)."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import CUB_MINI

from wsol_tf import evaluation, training
from wsol_tf.data import synthetic
from wsol_tf.data.cub import load_cub
from wsol_tf.evaluation import extractors
from wsol_tf.evaluation.boxes import gt_boxes_for_input
from wsol_tf.evaluation.evaluator import evaluate_scoremaps, original_size_hw
from wsol_tf.evaluation.scoremap_files import (
    image_id_of,
    load_scoremap,
    save_scoremap,
    scoremap_file,
)
from wsol_tf.runs.config import TrainConfig

IMAGE_SIZE = (32, 48)  # non-square on purpose


def run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "tiny"
    synthetic.generate(
        root, num_classes=3, train_per_class=6, test_per_class=3, seed=2, min_size=40, max_size=64
    )
    return str(root)


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run") / "w"
    config = TrainConfig.from_settings(
        model="tinyvgg", dataset="cub", data_dir=tiny_data, method="adl", epochs=1,
        batch_size=6, image_size=IMAGE_SIZE, seed=1, workdir=str(workdir), log_every=100,
    )  # fmt: skip
    training.train(config, print_fn=lambda _: None)
    return str(workdir)


def test_image_id_is_the_path_under_images(tiny_data):
    records = load_cub(tiny_data, "test")
    image_id = image_id_of(records.image_paths[0], tiny_data)
    assert image_id.count("/") == 1 and image_id.endswith(".jpg")
    assert os.path.join(tiny_data, "images", image_id) == records.image_paths[0]
    assert scoremap_file("/r", image_id) == os.path.join("/r", *image_id.split("/")) + ".npy"
    with pytest.raises(ValueError, match="relative"):
        scoremap_file("/r", "../x.jpg")


def _gt_box_maps(records, out_dir, shift=0):
    """Maps that are 1 exactly on each image's GT box (moved right by ``shift`` pixels)."""
    for path, boxes in zip(records.image_paths, records.boxes, strict=True):
        x0, y0, x1, y1 = gt_boxes_for_input(boxes[:1], original_size_hw(path), IMAGE_SIZE)[0]
        m = np.zeros(IMAGE_SIZE)
        m[y0:y1, x0 + shift : x1 + shift] = 1.0
        save_scoremap(out_dir, image_id_of(path, records.source), m)


def test_hand_made_maps_on_the_gt_box_score_full_marks(tiny_data, tmp_path):
    records = load_cub(tiny_data, "test")
    _gt_box_maps(records, str(tmp_path / "maps"))
    res = evaluate_scoremaps(str(tmp_path / "maps"), records, print_fn=lambda _: None)
    assert res["num_images"] == 9 and res["num_skipped"] == 0
    assert res["num_unused_scoremaps"] == 0
    assert res["gt_known_loc"] == 100.0
    assert res["maxboxacc"] == 100.0 and res["maxboxacc_v2"] == 100.0
    assert res["top1_clas"] is None and res["top1_loc"] is None
    # Moved right by a full box width: no overlap at all.
    _gt_box_maps(records, str(tmp_path / "far"), shift=1000)
    res = evaluate_scoremaps(str(tmp_path / "far"), records, print_fn=lambda _: None)
    assert res["maxboxacc"] == 0.0


@pytest.mark.slow
def test_saved_scoremaps_score_like_in_memory(trained, tmp_path):
    saved = str(tmp_path / "maps")
    memory = evaluation.evaluate(
        trained, save_scoremaps=saved, out_dir=str(tmp_path / "a"), print_fn=lambda _: None
    )
    assert len([f for _, _, fs in os.walk(saved) for f in fs if f.endswith(".npy")]) == 9
    from_disk = evaluation.evaluate(
        scoremaps=saved, dataset="cub", data_dir=TrainConfig.load(trained).data_dir,
        out_dir=str(tmp_path / "b"), print_fn=lambda _: None,
    )  # fmt: skip
    for key in ("gt_known_loc", "best_gt_known_loc", "maxboxacc", "maxboxacc_v2", "num_images"):
        assert from_disk[key] == memory[key], key
    assert from_disk["maxboxacc_v2_per_iou"] == memory["maxboxacc_v2_per_iou"]
    assert from_disk["curve"]["gt_known_loc"] == memory["curve"]["gt_known_loc"]
    assert [s["gt_known_loc"] for s in from_disk["per_threshold"]] == [
        s["gt_known_loc"] for s in memory["per_threshold"]
    ]
    with open(tmp_path / "a" / "metrics.json") as f:
        written = json.load(f)
    for key in ("top1_clas", "top1_loc", "maxboxacc", "maxboxacc_v2", "pxap", "num_skipped"):
        assert key in written
    for name in ("chosen", "best", "worst"):
        grid = cv2.imread(written["pictures"][name])
        assert grid.shape == (8 * IMAGE_SIZE[0], 3 * IMAGE_SIZE[1], 3)


@pytest.mark.slow
def test_grad_cam_equals_cam_for_a_gap_head(trained, tmp_path):
    # With GAP -> Dense on the CAM features, d logit_c / dF[h, w, k] = w[k, c] / (h w), so
    # Grad-CAM is CAM / (h w) and the normalised maps (hence all metrics) agree.
    from wsol_tf.evaluation.extractors import ScoreMapper
    from wsol_tf.runs.checkpoints import load_model

    model, config, _ = load_model(trained)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (4, *IMAGE_SIZE, 3)).astype(np.float32)
    classes = np.array([0, 1, 2, 1])
    logits_a, cam = ScoreMapper(model, "cam")(images, classes)
    logits_b, grad = ScoreMapper(model, "gradcam")(images, classes)
    np.testing.assert_allclose(logits_a, logits_b, rtol=1e-5, atol=1e-5)
    assert cam.shape == grad.shape == (4, *IMAGE_SIZE)
    np.testing.assert_allclose(grad, cam, atol=1e-4)
    with pytest.raises(ValueError, match="gradcam"):
        ScoreMapper(model, "no_such_extractor")


@pytest.mark.slow
def test_every_extractor_evaluates_a_run(trained, tmp_path):
    from wsol_tf.data.datasets import load_split
    from wsol_tf.evaluation.evaluator import evaluate_model
    from wsol_tf.runs.checkpoints import load_model

    model, config, _ = load_model(trained)
    records = load_split("cub", config.data_dir, "test")
    for name in extractors.EXTRACTORS.names():
        spec = extractors.CamSpec(name, scorecam_max_channels=8)
        metrics = evaluate_model(
            model, records, image_size=config.image_size, cam=spec, cam_curve_interval=0.01,
            num_overlays=0, print_fn=lambda _: None,
        )  # fmt: skip
        assert metrics["num_images"] == 9 and 0 <= metrics["maxboxacc_v2"] <= 100, name


@pytest.mark.slow
def test_evaluate_cli_takes_the_extractor_options(trained, tmp_path):
    out = str(tmp_path / "o")
    result = run_cli(
        "wsol_tf.evaluate", f"--workdir={trained}", f"--out_dir={out}", "--cam=gradcampp",
        "--cam_layers=block3_conv2,features", "--cam_tta_scales=1.1",
        "--cam_curve_interval=0.01", "--num_pictures=0", "--workers=2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    with open(os.path.join(out, "metrics.json")) as f:
        written = json.load(f)
    assert written["cam"] == "gradcampp" and written["num_images"] == 9
    assert written["cam_spec"]["layers"] == ["block3_conv2", "features"]
    assert written["cam_spec"]["tta_scales"] == [1.1]
    bad = run_cli("wsol_tf.evaluate", f"--workdir={trained}", "--cam=classic", "--cam_layers=a")
    assert bad.returncode == 2 and "--cam_layers=a is invalid with --cam=classic" in bad.stderr


def test_scoremaps_of_unreadable_images_are_skipped_counted_and_named(tiny_data, tmp_path):
    # Was: an empty image file stopped the scoring with "error: Input is empty." (no file
    # named), and an image our own --save_scoremaps had skipped (no map) was "no score map".
    # Now both are skipped and listed as unreadable, as when a model is evaluated.
    from wsol_tf.data.pipeline import skip_log_scope

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    records = load_cub(str(data), "test")
    root = str(tmp_path / "maps")
    _gt_box_maps(records, root)
    empty, truncated = records.image_paths[1], records.image_paths[5]
    open(empty, "wb").close()  # its map is kept: the size is what cannot be read
    with open(truncated, "rb") as f:
        head = f.read(400)  # the header (size) survives, the pixels do not
    with open(truncated, "wb") as f:
        f.write(head)
    os.remove(scoremap_file(root, image_id_of(truncated, records.source)))
    with skip_log_scope() as log:
        res = evaluate_scoremaps(root, records, print_fn=lambda _: None)
    assert res["num_images"] == 7 and res["maxboxacc"] == 100.0
    assert [e["path"] for e in log.entries()] == sorted([empty, truncated])
    assert all(e["reason"] for e in log.entries())


def test_bad_scoremaps_are_refused_naming_the_file(tiny_data, tmp_path):
    records = load_cub(tiny_data, "test")
    root = str(tmp_path / "maps")
    _gt_box_maps(records, root)
    image_id = image_id_of(records.image_paths[4], tiny_data)
    path = scoremap_file(root, image_id)
    np.save(path, np.full(IMAGE_SIZE, np.nan))
    with pytest.raises(ValueError, match="NaN") as error:
        evaluate_scoremaps(root, records, print_fn=lambda _: None)
    assert path in str(error.value)
    # Was: the first bad map stopped the scoring; now every map is read and the bad ones
    # counted, the first three named in the split's order.
    bad = [scoremap_file(root, image_id_of(records.image_paths[r], tiny_data)) for r in range(5)]
    for index, bad_path in enumerate(bad):
        np.save(bad_path, np.full(IMAGE_SIZE, [np.inf, 2.0, -0.5, np.nan, np.nan][index]))
    with pytest.raises(ValueError) as error:
        evaluate_scoremaps(root, records, print_fn=lambda _: None, workers=2)
    message = str(error.value)
    assert message.startswith(f"{root}: 5 of the 9 score maps are not valid maps: ")
    assert message.endswith("; and 2 more")
    assert all(p in message for p in bad[:3]) and bad[3] not in message
    assert "min 2.0" in message and "min -0.5" in message
    np.save(path, np.zeros((3, *IMAGE_SIZE)))
    with pytest.raises(ValueError, match="2D"):
        load_scoremap(root, image_id)
    np.save(path, np.zeros((IMAGE_SIZE[0], IMAGE_SIZE[1] + 1)))
    with pytest.raises(ValueError, match="shape"):
        load_scoremap(root, image_id, shape=IMAGE_SIZE)
    os.remove(path)
    with pytest.raises(FileNotFoundError, match=image_id):
        evaluate_scoremaps(root, records, print_fn=lambda _: None)


def test_missing_scoremaps_are_counted_and_named(tiny_data, tmp_path):
    # Before: the first missing map stopped the evaluation, with no count of the others.
    records = load_cub(tiny_data, "test")
    root = str(tmp_path / "maps")
    _gt_box_maps(records, root)
    gone = [image_id_of(records.image_paths[r], tiny_data) for r in (1, 5)]
    for image_id in gone:
        os.remove(scoremap_file(root, image_id))
    with pytest.raises(FileNotFoundError) as error:
        evaluate_scoremaps(root, records, print_fn=lambda _: None)
    message = str(error.value)
    assert "no score map for 2 of the 9 images" in message
    for image_id in gone:
        assert scoremap_file(root, image_id) in message


def test_scoremaps_of_no_image_of_the_split_are_counted(tiny_data, tmp_path):
    # Maps of ids the split does not have are ignored (as wsolevaluation does), and counted.
    records = load_cub(tiny_data, "test")
    root = str(tmp_path / "maps")
    _gt_box_maps(records, root)
    save_scoremap(root, "other/x.jpg", np.zeros(IMAGE_SIZE))
    save_scoremap(root, "y.jpg", np.zeros(IMAGE_SIZE))
    notes = []
    res = evaluate_scoremaps(root, records, print_fn=notes.append)
    assert res["num_images"] == 9 and res["num_unused_scoremaps"] == 2
    assert res["gt_known_loc"] == 100.0
    assert any("2 .npy file(s)" in n for n in notes)


def test_an_empty_scoremap_is_refused_naming_the_file(tiny_data, tmp_path):
    # Before: a (0, 0) map failed later, in the GT box rescaling, naming no file.
    records = load_cub(tiny_data, "test")
    root = str(tmp_path / "maps")
    _gt_box_maps(records, root)
    path = scoremap_file(root, image_id_of(records.image_paths[3], tiny_data))
    for shape in ((0, 0), (IMAGE_SIZE[0], 0)):
        np.save(path, np.zeros(shape))
        with pytest.raises(ValueError, match="empty") as error:
            evaluate_scoremaps(root, records, print_fn=lambda _: None)
        assert path in str(error.value)


def test_a_nan_or_collapsed_model_is_counted_and_gives_finite_metrics(tiny_data):
    # A diverged checkpoint: NaN logits and maps. Maps become zeros (no box), argmax picks a
    # class; the metrics stay finite JSON and the images are counted (before: no count).
    import keras

    from wsol_tf import models
    from wsol_tf.evaluation.evaluator import evaluate_model

    records = load_cub(tiny_data, "test")
    model = models.build("tinyvgg", records.num_classes, image_size=IMAGE_SIZE, seed=0)
    model(np.zeros((1, *IMAGE_SIZE, 3), np.float32))

    def evaluated_with_every_weight(value):
        for weight in model.weights:
            weight.assign(keras.ops.full(weight.shape, value, weight.dtype))
        notes = []
        metrics = evaluate_model(
            model, records, image_size=IMAGE_SIZE, batch_size=4, cam_curve_interval=0.05,
            num_overlays=0, workers=1, print_fn=notes.append,
        )  # fmt: skip
        return metrics, notes

    # A collapsed model (finite, every feature 0): constant maps, no box; counted and warned of
    # (before: 0.0 on every localization metric with nothing saying why).
    metrics, notes = evaluated_with_every_weight(0.0)
    assert metrics["num_constant_maps"] == 9 and metrics["num_nonfinite_logits"] == 0
    assert metrics["gt_known_loc"] == 0.0 and metrics["maxboxacc_v2"] == 0.0
    assert any("9 of 9 images have a constant score map" in n for n in notes)
    metrics, notes = evaluated_with_every_weight(float("nan"))
    assert metrics["num_images"] == 9 and metrics["num_nonfinite_logits"] == 9
    assert metrics["num_constant_maps"] == 9  # NaN maps normalize to zeros too
    assert metrics["gt_known_loc"] == 0.0 and metrics["maxboxacc"] == 0.0
    json.dumps(metrics, allow_nan=False)  # no NaN literal anywhere
    assert any("9 of 9 images have NaN or Inf logits" in n for n in notes)


def test_gt_box_with_x1_below_x0_is_refused(tiny_data, tmp_path):
    records = load_cub(tiny_data, "test")
    _gt_box_maps(records, str(tmp_path / "maps"))
    boxes = records.boxes.copy()
    boxes[2, 0] = (30, 5, 10, 20)
    bad = dataclasses.replace(records, boxes=boxes)
    with pytest.raises(ValueError, match="invalid box") as error:
        evaluate_scoremaps(str(tmp_path / "maps"), bad, print_fn=lambda _: None)
    assert records.image_paths[2] in str(error.value)


@pytest.mark.slow
def test_checkpoint_that_does_not_fit_is_refused(trained, tmp_path):
    from wsol_tf.runs.checkpoints import load_model

    with pytest.raises(ValueError, match="does not match the model"):
        load_model(trained, num_classes=5)
    with pytest.raises(FileNotFoundError, match="no file"):
        load_model(trained, checkpoint=os.path.join(trained, "checkpoints", "ckpt-99"))


# --- localize and export ---------------------------------------------------------------------


def test_component_box_matches_largest_contour_box():
    from wsol_tf.deployment.saved_model import component_boxes
    from wsol_tf.evaluation.boxes import box_from_scoremap

    maps = np.zeros((3, 30, 44))
    maps[0, 3:10, 5:30] = 1.0  # big block
    maps[0, 20:27, 35:40] = 0.8  # small block: not the largest
    maps[1, 12:29, 30:44] = 0.6  # touches the bottom-right border: x1, y1 clipped
    maps[1, 0:2, 0:2] = 1.0
    got = component_boxes(maps, 0.2).numpy()
    for i in range(3):
        np.testing.assert_array_equal(got[i], box_from_scoremap(maps[i], 0.2))
    np.testing.assert_array_equal(got[0], [5, 3, 30, 10])
    np.testing.assert_array_equal(got[2], [0, 0, 0, 0])  # empty map


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(CUB_MINI), reason=f"real CUB mini set not at {CUB_MINI}")
def test_localize_cli_on_a_real_image(trained, tmp_path):
    image = os.path.join(
        CUB_MINI, "images", "001.Black_footed_Albatross", "Black_Footed_Albatross_0046_18.jpg"
    )
    result = run_cli("wsol_tf.localize", f"--workdir={trained}", f"--out={tmp_path}", image)
    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = result.stdout.strip().splitlines()
    out = json.loads(line)
    assert out["size"] == [335, 500]  # (H, W) of that CUB image
    x0, y0, x1, y1 = out["box"]
    assert 0 <= x0 <= x1 <= 499 and 0 <= y0 <= y1 <= 334
    scores = [c["score"] for c in out["top_classes"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)  # 3 classes in total
    assert abs(sum(scores) - 1) < 1e-5
    assert cv2.imread(out["overlay"]).shape == (335, 500, 3)
    # A second call into the same --out (the image given twice) replaces the first call's
    # overlay and its unreadable-file list instead of adding beside them.
    (tmp_path / "unreadable_files.json").write_text('{"num_skipped": 3, "skipped": []}')
    eigen = run_cli(
        "wsol_tf.localize", f"--workdir={trained}", "--cam=eigencam", "--cam_smooth=tta",
        f"--out={tmp_path}", image, image,
    )  # fmt: skip
    assert eigen.returncode == 0, eigen.stderr[-2000:]
    again = [json.loads(line) for line in eigen.stdout.strip().splitlines()]
    assert [r["size"] for r in again] == [[335, 500]] * 2
    stem = "Black_Footed_Albatross_0046_18"
    assert [os.path.basename(r["overlay"]) for r in again] == [f"{stem}.png", f"{stem}_1.png"]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [f"{stem}.png", f"{stem}_1.png"]
    assert json.loads((tmp_path / "unreadable_files.json").read_text())["num_skipped"] == 0
    missing = run_cli("wsol_tf.localize", f"--workdir={trained}", str(tmp_path / "none.jpg"))
    assert missing.returncode == 2 and "none.jpg" in missing.stderr


RELOAD_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = serve(images=tf.constant(np.load(sys.argv[2])))
print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}))
"""


@pytest.mark.slow
def test_export_reloads_in_a_fresh_process(trained, tmp_path):
    from wsol_tf.runs.checkpoints import load_model

    saved = str(tmp_path / "saved")
    result = run_cli("wsol_tf.export", f"--workdir={trained}", f"--out={saved}")
    assert result.returncode == 0, result.stderr[-2000:]
    exported = json.loads(result.stdout.strip().splitlines()[-1])
    # No validation evaluation of this run: the paper's threshold, and the output says so.
    assert exported["cam_threshold"] == 0.2
    assert "threshold: the paper's 0.2 (no read-out chosen on validation" in exported["readout"]
    images = np.random.default_rng(3).uniform(0, 255, (2, 50, 70, 3)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    reloaded = subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT, saved, str(tmp_path / "images.npy")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert reloaded.returncode == 0, reloaded.stderr[-2000:]
    out = {k: np.array(v) for k, v in json.loads(reloaded.stdout.strip().splitlines()[-1]).items()}
    import tensorflow as tf

    model, _, _ = load_model(trained)
    logits = model(tf.image.resize(images, IMAGE_SIZE), training=False)["logits"]
    expected = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(out["scores"], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(out["classes"], expected.argmax(-1))
    assert out["cam"].shape == (2, *IMAGE_SIZE)
    assert out["cam"].min() >= 0 and out["cam"].max() <= 1
    from wsol_tf.deployment.saved_model import component_boxes

    np.testing.assert_array_equal(out["box"], component_boxes(out["cam"], 0.2).numpy())
    # In the given images' pixels: the 70 x 50 image's pixels each input box covers.
    from test_boxes import covered_pixels

    expected = covered_pixels(out["box"], IMAGE_SIZE, (50, 70))
    np.testing.assert_array_equal(out["box_original"], expected)


@pytest.mark.slow
def test_exported_extractor_options_give_the_libraries_map(trained, tmp_path):
    import tensorflow as tf

    from wsol_tf.runs.checkpoints import load_model

    saved = str(tmp_path / "saved")
    result = run_cli(
        "wsol_tf.export", f"--workdir={trained}", f"--out={saved}", "--cam=layercam",
        "--cam_layers=block3_conv2,features", "--cam_smooth=tta", "--cam_tta_scales=1.25",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "layercam(layers=block3_conv2,features; smooth=tta(1.25))" in result.stdout
    images = np.random.default_rng(4).uniform(0, 255, (2, *IMAGE_SIZE, 3)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    reloaded = subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT, saved, str(tmp_path / "images.npy")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert reloaded.returncode == 0, reloaded.stderr[-2000:]
    out = {k: np.array(v) for k, v in json.loads(reloaded.stdout.strip().splitlines()[-1]).items()}
    model, _, _ = load_model(trained)
    spec = extractors.CamSpec(
        "layercam", layers=("block3_conv2", "features"), smooth="tta", tta_scales=(1.25,)
    )
    _, maps = extractors.build(spec)(model, tf.constant(images), None)
    np.testing.assert_allclose(out["cam"], extractors.minmax(maps).numpy(), atol=1e-4)


def test_extractors_table_refuses_a_run_without_a_val_split(trained):
    from wsol_tf.reproduction import extractors_table

    with pytest.raises(ValueError, match="--val_per_class=0"):
        extractors_table.evaluate_extractors([trained])
    row = {
        "workdir": "w/synth", "model": "tinyvgg", "dataset": "synthetic", "method": "cam",
        "cam": "scorecam(max_channels=64)", "maxboxacc_v2": 61.234, "val_threshold": 0.25,
        "gt_known_loc_at_val_threshold": 70.0, "top1_clas": 90.0, "seconds_per_image": 0.0123,
    }  # fmt: skip
    assert extractors_table.markdown([row]).splitlines()[-1] == (
        "| synth (tinyvgg, synthetic) | cam | scorecam(max_channels=64) | 61.23 | 70.00 | 0.25 "
        "| 90.00 | 0.012 |"
    )
