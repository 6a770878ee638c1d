"""`python -m wsol_tf.data check`: report, per-image JSON, unreadable files, errors."""

import json

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
