"""`python -m wsol_tf.data check`: report, per-image JSON, unreadable files, errors."""

import json

import numpy as np
import pytest
from conftest import CUB_MINI, ILSVRC_MINI, needs_cub_mini, needs_ilsvrc_mini
from test_cub import write_cub

from wsol_tf.data.__main__ import main


def test_check_reports_unreadable_and_writes_json(tmp_path, capsys):
    root = write_cub(tmp_path / "cub", classes=(3, 7), per_class=2)
    bad = root / "images" / "007.Bird_7" / "img_4.jpg"
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    out = tmp_path / "out.json"
    code = main(["check", "--dataset", "cub", "--data_dir", str(root), "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 1
    assert "unreadable files: 1" in text and "img_4.jpg" in text
    records = json.loads(out.read_text())["images"]
    assert len(records) == 4
    first = next(r for r in records if r["id"] == "1")
    # write_cub: 14 x 10 (w x h) images, box "1 2 5 6" (x y w h) -> [1, 2, 6, 8].
    assert first == {"split": "test", "id": "1", "class_index": 0, "image_size": [14, 10],
                     "boxes": [[1.0, 2.0, 6.0, 8.0]], "readable": True}  # fmt: skip
    assert next(r for r in records if r["id"] == "4")["readable"] is False


def test_check_names_malformed_line(tmp_path, capsys):
    root = write_cub(tmp_path, box_line="2 1.0 2.0 five 6.0")
    assert main(["check", "--dataset", "cub", "--data_dir", str(root)]) == 2
    assert "bounding_boxes.txt:2" in capsys.readouterr().err


def test_an_unusable_json_path_is_named_as_given_before_the_scan(tmp_path, capsys):
    # Was: a folder failed after every image was read ("[Errno 21] Is a directory: '.x.tmp'
    # -> 'x'"); a path under a file was named by its folder ("--json=<folder>: ...").
    root = write_cub(tmp_path / "cub", classes=(3, 7), per_class=2)
    (tmp_path / "file").write_text("")
    for given, message in ((tmp_path, "is a folder; give a file name"),
                           (tmp_path / "file" / "x.json", "cannot write there")):  # fmt: skip
        code = main(["check", "--dataset", "cub", "--data_dir", str(root), "--json", str(given)])
        captured = capsys.readouterr()
        assert code == 2 and f"--json={given}: " in captured.err and message in captured.err
        assert "images" not in captured.out  # nothing scanned


@needs_cub_mini
def test_check_real_cub(tmp_path, capsys):
    out = tmp_path / "cub.json"
    assert main(["check", "--dataset", "cub", "--data_dir", CUB_MINI, "--json", str(out)]) == 0
    images = json.loads(out.read_text())["images"]
    assert len(images) == 543
    first = next(r for r in images if r["id"] == "1")
    assert first["boxes"] == [[60, 27, 385, 331]] and first["image_size"] == [500, 335]


@needs_ilsvrc_mini
@pytest.mark.slow
def test_check_real_imagenet(capsys):
    assert main(["check", "--dataset", "imagenet", "--data_dir", ILSVRC_MINI]) == 0
    text = capsys.readouterr().out
    assert "images 1300, classes 1000" in text and "boxes 1943 (1..19 per image" in text
    assert "differs from the annotation: 0" in text


def test_check_box_past_the_right_edge_is_outside_and_evaluates(tmp_path, capsys):
    root = write_cub(tmp_path / "cub", box_line="2 500.0 3.0 2.0 2.0")  # id 2: train, 14 x 10
    assert main(["check", "--dataset", "cub", "--data_dir", str(root), "--split", "train"]) == 1
    text = capsys.readouterr().out
    assert "img_2.jpg: box [500, 3, 502, 5] outside the image (14x10)" in text
    assert "empty 0, outside the image 1" in text
    # Evaluation reads the same box, scores it and flags it the same way (no "invalid box").
    from wsol_tf.data.cub import load_cub
    from wsol_tf.evaluation.sources import FileEvalSource

    source = FileEvalSource(load_cub(root, "train"))
    row = source.records.image_ids.index(2)
    np.testing.assert_array_equal(source.gt(row, (20, 28), None), [[1000, 6, 1004, 10]])
    assert source.suspect_report()["examples"][0]["problem"] == "outside the image"


def test_check_empty_split_reports_zero_images(tmp_path, capsys):
    root = write_cub(tmp_path / "cub")
    (root / "train_test_split.txt").write_text("".join(f"{i} 1\n" for i in range(1, 5)))
    out = tmp_path / "out.json"
    code = main(["check", "--dataset", "cub", "--data_dir", str(root), "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and not captured.err
    assert f"[test] {root}\n  images 0: the split is empty\n" in captured.out
    report = json.loads(out.read_text())
    assert report["splits"]["test"]["images"] == 0 and report["splits"]["train"]["images"] == 4
    assert [r["split"] for r in report["images"]] == ["train"] * 4


@pytest.mark.parametrize("dataset", ["wsol_metadata", "imagenet", "cub", "folder"])
def test_check_without_data_dir_names_the_flag(dataset, capsys):
    assert main(["check", "--dataset", dataset]) == 2
    err = capsys.readouterr().err
    assert f"error: --dataset={dataset} needs --data_dir=<dataset folder>." in err
    assert "unexpected" not in err


def test_a_class_without_a_training_image_is_a_problem_and_one_without_a_test_image_is_not(
    tmp_path, capsys
):
    root = write_cub(tmp_path / "cub", classes=(3, 7, 9))  # ids 2k+1 test, 2k+2 train
    split = {1: 0, 2: 1, 3: 0, 4: 0, 5: 1, 6: 1}  # class 7: no train image; 9: no test image
    (root / "train_test_split.txt").write_text("".join(f"{i} {s}\n" for i, s in split.items()))
    out = tmp_path / "out.json"
    code = main(["check", "--dataset", "cub", "--data_dir", str(root), "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 1
    train, test = text[text.index("[train]") : text.index("[test]")], text[text.index("[test]") :]
    assert "classes 3 (2 present" in train
    assert "classes without an image: 1 (a problem: the model never sees them): 007.Bird_7" in train
    assert "classes without an image: 1 (not scored on them): 009.Bird_9" in test
    splits = json.loads(out.read_text())["splits"]
    assert splits["train"]["classes_without_images"] == ["007.Bird_7"]
    assert splits["test"]["classes_without_images"] == ["009.Bird_9"]
    # The test split alone: a class it lacks is reported, not a problem.
    assert main(["check", "--dataset", "cub", "--data_dir", str(root), "--split", "test"]) == 0
