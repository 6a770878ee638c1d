"""PxAP from real mask sources end to end, and evaluation of tfds splits.

* OpenImages-style wsol_metadata folders (images, instance mask PNGs, ignore PNGs written
  here, non-square): masks in input pixels by hand, PxAP against the brute-force reference
  of test_pxap, through evaluate_scoremaps, evaluate_model and the evaluate CLI.
* tfds caltech_birds2011 / oxford_iiit_pet through tfds.testing.mock_data: boxes from the
  tfds features, image ids = read positions, masks (CUB segmentations, pet trimaps).
"""

import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from test_pxap import _brute_force_pxap
from test_tfds_sources import _mocked, fake_prepared

from wsol_tf import models
from wsol_tf.data.datasets import load_split
from wsol_tf.evaluation.evaluator import evaluate_model, evaluate_scoremaps
from wsol_tf.evaluation.gt_masks import cub_segmentation_mask, openimages_mask, pet_trimap_mask
from wsol_tf.evaluation.metrics import LocalizationEvaluator
from wsol_tf.evaluation.scoremap_files import load_scoremap, save_scoremap

GRID = np.arange(0, 1, 0.01)
# Original images and masks are (40, 60); maps and inputs (20, 30): an exact factor of 2, so
# cv2's nearest resize keeps pixels [::2, ::2] (source index floor(2 * i)).
ORIGINAL_HW = (40, 60)
INPUT_HW = (20, 30)


def _png(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), array)


def openimages_folder(root):
    """Three images of class 0/1; instance masks and ignore masks as (40, 60) PNGs.

    a: two instances (one drawn with grey value 1: object under the raw > 0.5 rule) and an
       ignore region overlapping one instance (the overlap stays object).
    b: one instance, no ignore file (empty third field).
    c: one instance and an ignore region.
    Returns {image id: (object (40, 60) bool, ignore (40, 60) bool)} as written.
    """
    rng = np.random.default_rng(3)
    truth = {}
    lines = []
    h, w = ORIGINAL_HW
    specs = {
        "val/x/a.png": ([(2, 8, 4, 20, 255), (24, 36, 30, 50, 1)], (0, 14, 10, 44)),
        "val/x/b.png": ([(10, 30, 20, 40, 200)], None),
        "val/y/c.png": ([(6, 22, 36, 58, 255)], (20, 40, 0, 30)),
    }
    for image_id, (instances, ignore_box) in specs.items():
        _png(root / image_id, rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        stem = image_id[:-4]
        foreground = np.zeros((h, w), bool)
        for k, (y0, y1, x0, x1, value) in enumerate(instances):
            instance = np.zeros((h, w), np.uint8)
            instance[y0:y1, x0:x1] = value
            foreground |= instance > 0
            _png(root / f"{stem}_m{k}.png", instance)
            ignore_field = ""
            if k == 0 and ignore_box is not None:
                ignore_field = f"{stem}_ignore.png"
            lines.append(f"{image_id},{stem}_m{k}.png,{ignore_field}")
        ignore = np.zeros((h, w), bool)
        if ignore_box is not None:
            y0, y1, x0, x1 = ignore_box
            ignore[y0:y1, x0:x1] = True
            _png(root / f"{stem}_ignore.png", ignore.astype(np.uint8) * 255)
        truth[image_id] = (foreground, ignore & ~foreground)
    folder = root / "wsol_metadata" / "test"
    os.makedirs(folder)
    ids = list(specs)
    (folder / "image_ids.txt").write_text("\n".join(ids) + "\n")
    (folder / "class_labels.txt").write_text("".join(f"{i},{k % 2}\n" for k, i in enumerate(ids)))
    (folder / "localization.txt").write_text("\n".join(lines) + "\n")
    return truth


def _expected_mask(foreground, ignore):
    """The (20, 30) uint8 mask by hand: every second pixel, 1 object, 255 ignore."""
    out = foreground[::2, ::2].astype(np.uint8)
    out[ignore[::2, ::2]] = 255
    return out


def test_openimages_mask_by_hand(tmp_path):
    truth = openimages_folder(tmp_path)
    records = load_split("wsol_metadata", str(tmp_path), "test")
    for row, image_id in enumerate(records.image_ids):
        expected = _expected_mask(*truth[image_id])
        got = openimages_mask(records.mask_paths[row], records.ignore_paths[row], INPUT_HW)
        np.testing.assert_array_equal(got, expected)
        # Resize to (40, 60) is the identity; the centre crop (30, 44) keeps rows 5..34 and
        # columns 8..51.
        cropped = openimages_mask(
            records.mask_paths[row], records.ignore_paths[row], (30, 44), ORIGINAL_HW
        )
        foreground, ignore = truth[image_id]
        want = foreground.astype(np.uint8)
        want[ignore] = 255
        np.testing.assert_array_equal(cropped, want[5:35, 8:52])
    # Image a: the grey-1 instance counts as object (raw value > 0.5, as wsolevaluation).
    assert truth["val/x/a.png"][0][24:36, 30:50].all()


def test_openimages_mask_errors_name_the_file(tmp_path):
    openimages_folder(tmp_path)
    records = load_split("wsol_metadata", str(tmp_path), "test")
    os.remove(records.mask_paths[1][0])
    with pytest.raises(FileNotFoundError, match="b_m0.png"):
        openimages_mask(records.mask_paths[1], [], INPUT_HW)
    with open(records.mask_paths[0][0], "wb") as f:
        f.write(b"not a png")
    with pytest.raises(ValueError, match="a_m0.png could not be decoded"):
        openimages_mask(records.mask_paths[0], [], INPUT_HW)


def test_mask_jpeg_with_exif_orientation_is_read_as_stored(tmp_path):
    # Was: OpenCV turned such a mask upright (its default), so it lay rotated over its image,
    # which TensorFlow decodes as stored. Now both are in stored pixels.
    from image_files import exif_jpeg

    from wsol_tf.evaluation.gt_masks import read_gray

    mask = np.zeros((20, 36), np.uint8)
    mask[2:8, 4:30] = 255  # a wide bar near the top
    path = tmp_path / "m.jpg"
    path.write_bytes(exif_jpeg(mask, 6))
    got = read_gray(str(path))
    assert got.shape == (20, 36)
    np.testing.assert_allclose(got, mask, atol=24)  # JPEG ringing at the bar's edges


def _maps_for(truth, seed=0):
    """Score maps (20, 30) that favour object pixels, with the ignore region scored high."""
    rng = np.random.default_rng(seed)
    maps = {}
    for image_id, (foreground, ignore) in truth.items():
        m = rng.uniform(0, 0.6, INPUT_HW)
        m[foreground[::2, ::2]] += 0.3
        m[ignore[::2, ::2]] = 0.95  # would cost precision if it were counted
        m = (m - m.min()) / (m.max() - m.min())
        maps[image_id] = m
    return maps


def test_openimages_scoremaps_pxap_equals_reference(tmp_path):
    truth = openimages_folder(tmp_path)
    records = load_split("wsol_metadata", str(tmp_path), "test")
    maps = _maps_for(truth)
    for image_id, m in maps.items():
        save_scoremap(str(tmp_path / "maps"), image_id, m)
    res = evaluate_scoremaps(
        str(tmp_path / "maps"), records, cam_curve_interval=0.01, out_dir=str(tmp_path / "out"),
        print_fn=lambda _: None,
    )  # fmt: skip
    ids = list(truth)
    masks = [_expected_mask(*truth[i]) for i in ids]
    want = _brute_force_pxap([maps[i] for i in ids], masks, GRID)
    assert res["pxap"] == pytest.approx(want, rel=1e-12)
    assert 30 < res["pxap"] < 100  # not a degenerate case
    # Counting the ignore pixels as background would lower it: the ignore mask matters.
    unignored = [np.where(k == 255, 0, k).astype(np.uint8) for k in masks]
    assert res["pxap"] > _brute_force_pxap([maps[i] for i in ids], unignored, GRID) + 1
    assert res["num_images_with_mask"] == 3 and res["num_images_with_box"] == 0
    assert res["gt_known_loc"] is None and res["maxboxacc"] is None
    assert os.path.isfile(res["overlays"])


def test_perfect_map_scores_100_whatever_the_ignore_region(tmp_path):
    truth = openimages_folder(tmp_path)
    records = load_split("wsol_metadata", str(tmp_path), "test")
    for image_id, (foreground, ignore) in truth.items():
        m = foreground[::2, ::2].astype(np.float64)
        m[ignore[::2, ::2]] = 1.0  # ignored: no false positive
        save_scoremap(str(tmp_path / "maps"), image_id, m)
    res = evaluate_scoremaps(str(tmp_path / "maps"), records, print_fn=lambda _: None)
    assert res["pxap"] == pytest.approx(100.0)


@pytest.fixture(scope="module")
def tiny_model():
    tf.keras.utils.set_random_seed(4)
    return models.build("tinyvgg", 2, image_size=INPUT_HW)


def test_openimages_model_pxap_matches_its_saved_maps(tmp_path, tiny_model):
    truth = openimages_folder(tmp_path)
    records = load_split("wsol_metadata", str(tmp_path), "test")
    maps_dir = str(tmp_path / "maps")
    res = evaluate_model(
        tiny_model, records, image_size=INPUT_HW, resize_size=INPUT_HW, batch_size=2,
        cam_curve_interval=0.01, out_dir=str(tmp_path / "out"), save_scoremaps=maps_dir,
        print_fn=lambda _: None,
    )  # fmt: skip
    ids = list(truth)
    maps = [load_scoremap(maps_dir, i) for i in ids]
    want = _brute_force_pxap(maps, [_expected_mask(*truth[i]) for i in ids], GRID)
    assert res["pxap"] == pytest.approx(want, rel=1e-9)
    assert res["num_images"] == res["num_images_with_mask"] == 3
    assert res["top1_clas"] in (0.0, 100 / 3, 200 / 3, 100.0)


@pytest.mark.slow
def test_evaluate_cli_reports_pxap_for_openimages(tmp_path):
    truth = openimages_folder(tmp_path)
    maps = _maps_for(truth, seed=1)
    for image_id, m in maps.items():
        save_scoremap(str(tmp_path / "maps"), image_id, m)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-m", "wsol_tf.evaluate", f"--scoremaps={tmp_path / 'maps'}",
         "--dataset=wsol_metadata", f"--data_dir={tmp_path}", "--split=test",
         f"--out_dir={tmp_path / 'out'}", "--cam_curve_interval=0.01"],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    headline = json.loads(result.stdout.strip().splitlines()[-1])
    ids = list(truth)
    want = _brute_force_pxap([maps[i] for i in ids], [_expected_mask(*truth[i]) for i in ids], GRID)
    assert headline["pxap"] == pytest.approx(want, rel=1e-9)
    assert headline["maxboxacc"] is None


# ---- tfds ------------------------------------------------------------------------------

CUB_SIGNATURE = {
    "image": tf.TensorSpec((None, None, 3), tf.uint8),
    "label": tf.TensorSpec((), tf.int64),
    "bbox": tf.TensorSpec((4,), tf.float32),
    "segmentation_mask": tf.TensorSpec((None, None, 1), tf.uint8),
}
CUB_BOXES = [(0.25, 0.1, 0.75, 0.5), (0.0, 0.5, 0.5, 1.0), (0.5, 0.0, 1.0, 0.4)]


def _cub_examples():
    """Three (40, 60) birds with soft segmentation values (the majority rule matters)."""
    rng = np.random.default_rng(7)
    examples = []
    for i, (ymin, xmin, ymax, xmax) in enumerate(CUB_BOXES):
        segmentation = np.zeros((40, 60, 1), np.uint8)
        y0, y1, x0, x1 = int(ymin * 40), int(ymax * 40), int(xmin * 60), int(xmax * 60)
        segmentation[y0:y1, x0:x1] = 204  # 4 of 5 annotators: object
        segmentation[y0 : y0 + 4, x0:x1] = 102  # 2 of 5: background
        examples.append({
            "image": rng.integers(0, 255, (40, 60, 3), dtype=np.uint8), "label": 3 * i,
            "bbox": np.array([ymin, xmin, ymax, xmax], np.float32),
            "segmentation_mask": segmentation,
        })  # fmt: skip
    return examples


def test_cub_and_pet_masks_by_hand():
    seg = np.zeros((40, 60, 1), np.uint8)
    seg[10:30, 6:30] = 204
    seg[10:14, 6:30] = 102
    want = np.zeros((20, 30), np.uint8)
    want[7:15, 3:15] = 1  # rows 14..29 of 40 -> 7..14 of 20 (102 rows dropped)
    np.testing.assert_array_equal(cub_segmentation_mask(seg, INPUT_HW), want)
    trimap = np.full((40, 60, 1), 2, np.uint8)
    trimap[8:20, 10:40] = 1
    trimap[20:22, 10:40] = 3
    want = np.zeros((20, 30), np.uint8)
    want[4:10, 5:20] = 1
    want[10, 5:20] = 255
    np.testing.assert_array_equal(pet_trimap_mask(trimap, INPUT_HW), want)


def _evaluate_tfds(tmp_path, dataset, name, examples, signature, num_classes):
    fake_prepared(name, tmp_path / "tfds", {"test": len(examples)})
    model = models.build("tinyvgg", num_classes, image_size=INPUT_HW)
    with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_FILES,
                                data_dir=str(tmp_path / "tfds"),
                                as_dataset_fn=_mocked(examples, signature)):  # fmt: skip
        source = load_split(dataset, str(tmp_path / "tfds"), "test")
        return evaluate_model(
            model, source, image_size=INPUT_HW, resize_size=INPUT_HW, batch_size=2,
            cam_curve_interval=0.01, out_dir=str(tmp_path / "out"),
            save_scoremaps=str(tmp_path / "maps"), print_fn=lambda _: None,
        )  # fmt: skip


def test_tfds_cub_evaluation_boxes_masks_and_ids(tmp_path):
    tf.keras.utils.set_random_seed(5)
    examples = _cub_examples()
    res = _evaluate_tfds(tmp_path, "tfds_cub", "caltech_birds2011", examples, CUB_SIGNATURE, 200)
    # Image ids are read positions: maps 0.npy, 1.npy, 2.npy.
    maps = [load_scoremap(str(tmp_path / "maps"), str(i)) for i in range(3)]
    # The same metrics from the saved maps with boxes and masks worked out by hand:
    # box (ymin, xmin, ymax, xmax) * (40, 60) / 2 -> input pixels (x0, y0, x1, y1).
    boxes = np.array([[[3, 5, 15, 15]], [[15, 0, 30, 10]], [[0, 10, 12, 20]]])
    masks = []
    for example in examples:
        seg = example["segmentation_mask"][::2, ::2, 0]
        masks.append((seg > 127).astype(np.uint8))
    labels = np.array([0, 3, 6])
    reference = LocalizationEvaluator(cam_curve_interval=0.01)
    reference.accumulate(np.stack(maps), None, labels, labels, boxes, np.ones(3, int), masks)
    want = reference.compute()
    for key in ("gt_known_loc", "maxboxacc", "maxboxacc_v2", "pxap", "num_images_with_mask"):
        assert res[key] == pytest.approx(want[key]), key
    assert res["pxap"] == pytest.approx(_brute_force_pxap(maps, masks, GRID), rel=1e-9)
    assert res["num_images"] == 3 and res["num_skipped"] == 0
    assert os.path.isfile(res["pictures"]["best"])


def test_tfds_pets_skips_images_without_a_pet(tmp_path):
    tf.keras.utils.set_random_seed(6)
    rng = np.random.default_rng(8)
    examples = []
    for i in range(3):
        trimap = np.full((40, 60, 1), 2, np.uint8)
        if i != 1:  # image 1 has no pet: no box, no object pixel -> skipped
            trimap[8 + 4 * i : 30, 10:50] = 1
            trimap[30:32, 10:50] = 3
        examples.append({"image": rng.integers(0, 255, (40, 60, 3), dtype=np.uint8),
                         "label": i, "segmentation_mask": trimap})  # fmt: skip
    signature = {
        "image": tf.TensorSpec((None, None, 3), tf.uint8),
        "label": tf.TensorSpec((), tf.int64),
        "segmentation_mask": tf.TensorSpec((None, None, 1), tf.uint8),
    }
    res = _evaluate_tfds(tmp_path, "tfds_pets", "oxford_iiit_pet", examples, signature, 37)
    assert res["num_images"] == 2 and res["num_skipped"] == 1
    assert sorted(os.listdir(tmp_path / "maps")) == ["0.npy", "2.npy", "scoremaps.json"]
    maps = [load_scoremap(str(tmp_path / "maps"), str(i)) for i in (0, 2)]
    masks = [pet_trimap_mask(examples[i]["segmentation_mask"], INPUT_HW) for i in (0, 2)]
    assert res["pxap"] == pytest.approx(_brute_force_pxap(maps, masks, GRID), rel=1e-9)
    # Trimap boxes include the outline: rows 8..31 / 16..31, cols 10..49 -> halved.
    reference = LocalizationEvaluator(cam_curve_interval=0.01)
    boxes = np.array([[[5, 4, 25, 16]], [[5, 8, 25, 16]]])
    reference.accumulate(np.stack(maps), None, np.array([0, 2]), np.array([0, 2]), boxes,
                         np.ones(2, int))  # fmt: skip
    assert res["gt_known_loc"] == pytest.approx(reference.compute()["gt_known_loc"])
    assert res["maxboxacc"] == pytest.approx(reference.compute()["maxboxacc"])


@pytest.mark.slow
def test_run_evaluate_on_tfds_cub_after_training_on_it(tmp_path):
    from wsol_tf import evaluation, training
    from wsol_tf.runs.config import TrainConfig

    examples = _cub_examples()
    data_dir = tmp_path / "tfds"
    fake_prepared("caltech_birds2011", data_dir, {"train": 3, "test": 3})
    config = TrainConfig.from_settings(
        model="tinyvgg", dataset="tfds_cub", data_dir=str(data_dir), epochs=1, batch_size=3,
        image_size=INPUT_HW, seed=1, workdir=str(tmp_path / "w"), log_every=100,
    )  # fmt: skip
    with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_FILES,
                                data_dir=str(data_dir),
                                as_dataset_fn=_mocked(examples, CUB_SIGNATURE)):  # fmt: skip
        training.train(config, print_fn=lambda _: None)
        res = evaluation.evaluate(str(tmp_path / "w"), cam_curve_interval=0.01, num_pictures=2,
                           print_fn=lambda _: None)  # fmt: skip
    assert res["dataset"] == "tfds_cub" and res["num_images"] == 3
    assert res["num_images_with_mask"] == 3 and 0 <= res["pxap"] <= 100
    assert res["num_skipped"] == 0 and os.path.isfile(res["overlays"])
    with open(tmp_path / "w" / "metrics.json") as f:
        assert json.load(f)["pxap"] == res["pxap"]


def test_mask_root_option_moves_the_masks(tmp_path):
    truth = openimages_folder(tmp_path)
    os.rename(tmp_path / "val", tmp_path / "moved")
    os.makedirs(tmp_path / "images")
    os.rename(tmp_path / "moved", tmp_path / "images" / "val")  # images under images/
    masks_root = tmp_path / "masks"
    shutil.copytree(tmp_path / "images" / "val", masks_root / "val")
    for path in (tmp_path / "images" / "val").rglob("*_*.png"):
        os.remove(path)  # only the images stay in the image root
    records = load_split("wsol_metadata", str(tmp_path), "test", mask_root=str(masks_root))
    assert all(p.startswith(str(masks_root)) for ps in records.mask_paths for p in ps)
    got = openimages_mask(records.mask_paths[0], records.ignore_paths[0], INPUT_HW)
    np.testing.assert_array_equal(got, _expected_mask(*truth["val/x/a.png"]))


def test_masks_without_an_object_pixel_leave_pxap_undefined_and_keep_the_box_metrics():
    rng = np.random.default_rng(11)
    maps = rng.uniform(0, 1, (2, 12, 20))
    boxes = np.array([[[2, 3, 9, 8]], [[4, 1, 15, 10]]])
    masks = np.zeros((2, 12, 20), np.uint8)  # background only
    masks[1, :, :5] = 255  # and some ignored pixels
    with_masks = LocalizationEvaluator(cam_curve_interval=0.01)
    with_masks.accumulate(maps, None, np.array([0, 1]), np.array([0, 1]), boxes, np.ones(2, int),
                          masks)  # fmt: skip
    plain = LocalizationEvaluator(cam_curve_interval=0.01)
    plain.accumulate(maps, None, np.array([0, 1]), np.array([0, 1]), boxes, np.ones(2, int))
    got, want = with_masks.compute(), plain.compute()
    assert got["pxap"] is None and "no object pixel" in got["pxap_note"]
    for key in ("gt_known_loc", "top1_loc", "maxboxacc", "maxboxacc_v2"):
        assert got[key] == want[key], key
    assert got["num_images_with_mask"] == 2
