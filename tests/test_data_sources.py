"""ImageNet, wsolevaluation metadata, plain folders, CUB held-out val, load_split options."""

import os

import numpy as np
import pytest
from conftest import CUB_MINI, ILSVRC_MINI, needs_cub_mini, needs_ilsvrc_mini
from image_files import bgr, jpeg_bytes, png_bytes
from test_cub import write_cub

from wsol_tf.data.cub import load_cub
from wsol_tf.data.datasets import load_split
from wsol_tf.data.decode import decode_image
from wsol_tf.data.pipeline import make_dataset

XML = """<annotation><filename>{stem}</filename>
<size><width>{w}</width><height>{h}</height><depth>3</depth></size>{objects}</annotation>"""
OBJECT = """<object><name>{wnid}</name><bndbox><xmin>{0}</xmin><ymin>{1}</ymin>
<xmax>{2}</xmax><ymax>{3}</ymax></bndbox></object>"""


@needs_ilsvrc_mini
def test_real_imagenet_xml_keeps_every_object():
    records = load_split("imagenet", ILSVRC_MINI, "val")
    assert len(records) == 1300 and records.num_classes == 1000
    assert int(records.num_boxes.sum()) == 1943  # the README's count
    row = records.image_ids.index("val/ILSVRC2012_val_00000347.JPEG")
    assert records.num_boxes[row] == 8  # 8 <object>s in its XML
    np.testing.assert_array_equal(records.boxes[row, 0], [9, 106, 50, 177])
    np.testing.assert_array_equal(records.boxes[row, 7], [150, 88, 181, 120])
    assert records.labels[row] == 472  # n02951358 (canoe) is line 473 of the mapping
    np.testing.assert_array_equal(records.image_sizes[row], [227, 227])


@needs_ilsvrc_mini
def test_real_imagenet_metadata_matches_xml():
    xml = load_split("imagenet", ILSVRC_MINI, "val")
    meta = load_split("wsol_metadata", ILSVRC_MINI, "test")
    order = [xml.image_ids.index(i) for i in meta.image_ids]
    np.testing.assert_array_equal(meta.labels, xml.labels[order])
    np.testing.assert_array_equal(meta.num_boxes, xml.num_boxes[order])
    np.testing.assert_array_equal(meta.boxes, xml.boxes[order])


@needs_cub_mini
def test_real_cub_metadata_golden_box():
    meta = load_split("wsol_metadata", CUB_MINI, "test")
    row = meta.image_ids.index("001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg")
    np.testing.assert_array_equal(meta.boxes[row, 0], [60, 27, 385, 331])
    np.testing.assert_array_equal(meta.image_sizes[row], [500, 335])
    assert meta.image_paths[row] == load_cub(CUB_MINI, "test").image_paths[0]


def write_imagenet(root, wnids=("n02", "n01", "n03"), csv=False):
    """train/<wnid>/ images for three classes, a mapping in non-sorted order, and val boxes."""
    (root / "LOC_synset_mapping.txt").write_text("".join(f"{w}0 name {w}\n" for w in wnids))
    for k, w in enumerate(wnids):
        os.makedirs(root / "train" / f"{w}0")
        for j in range(2):
            (root / "train" / f"{w}0" / f"{w}0_{j}.JPEG").write_bytes(jpeg_bytes(bgr(20, 30, k)))
    os.makedirs(root / "val")
    objects = {
        "v1": [("n010", [1, 2, 10, 12]), ("n010", [5, 6, 25, 19])],
        "v2": [("n030", [0, 0, 9, 9])],
    }
    for stem in objects:
        (root / "val" / f"{stem}.JPEG").write_bytes(jpeg_bytes(bgr(20, 30)))
    if csv:
        rows = ["ImageId,PredictionString"] + [
            f"{stem}," + " ".join(f"{w} {' '.join(map(str, b))}" for w, b in objs)
            for stem, objs in objects.items()
        ]
        (root / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    else:
        os.makedirs(root / "bbox_val")
        for stem, objs in objects.items():
            body = "".join(OBJECT.format(*b, wnid=w) for w, b in objs)
            (root / "bbox_val" / f"{stem}.xml").write_text(
                XML.format(stem=stem, w=30, h=20, objects=body)
            )
    return root


@pytest.mark.parametrize("csv", [False, True])
def test_imagenet_layouts(tmp_path, csv):
    write_imagenet(tmp_path, csv=csv)
    train = load_split("imagenet", str(tmp_path), "train")
    # Class index = mapping line order (n020, n010, n030), not sorted order.
    assert train.class_names[0].startswith("n020")
    labels = dict(zip([os.path.dirname(i) for i in train.image_ids], train.labels, strict=True))
    assert labels == {"train/n010": 1, "train/n020": 0, "train/n030": 2}
    assert (train.num_boxes == 0).all()
    val = load_split("imagenet", str(tmp_path), "val")
    assert val.image_ids == ["val/v1.JPEG", "val/v2.JPEG"]
    np.testing.assert_array_equal(val.labels, [1, 2])
    np.testing.assert_array_equal(val.num_boxes, [2, 1])
    np.testing.assert_array_equal(val.boxes[0], [[1, 2, 10, 12], [5, 6, 25, 19]])


def test_imagenet_sorted_wnids_without_mapping(tmp_path):
    write_imagenet(tmp_path)
    os.remove(tmp_path / "LOC_synset_mapping.txt")
    train = load_split("imagenet", str(tmp_path), "train")
    assert train.class_names == ["n010", "n020", "n030"]


def test_imagenet_bad_annotations_are_named(tmp_path):
    write_imagenet(tmp_path, csv=True)
    path = tmp_path / "LOC_val_solution.csv"
    path.write_text(path.read_text().replace("n030 0 0 9 9", "n030 0 0 9"))
    with pytest.raises(ValueError, match=r"LOC_val_solution.csv:3: expected"):
        load_split("imagenet", str(tmp_path), "val")
    path.write_text(path.read_text().replace("n030 0 0 9", "n999 0 0 9 9"))
    with pytest.raises(ValueError, match="n999 is not a known class"):
        load_split("imagenet", str(tmp_path), "val")


def test_imagenet_malformed_xml_named(tmp_path):
    write_imagenet(tmp_path)
    (tmp_path / "bbox_val" / "v2.xml").write_text("<annotation><object>")
    with pytest.raises(ValueError, match=r"v2.xml: malformed XML"):
        load_split("imagenet", str(tmp_path), "val")


def write_metadata(root, localization):
    folder = root / "wsol_metadata" / "test"
    os.makedirs(folder)
    os.makedirs(root / "c")
    ids = ["c/a.jpg", "c/b.jpg"]
    for i in ids:
        (root / i).write_bytes(jpeg_bytes(bgr(40, 60)))
    (folder / "image_ids.txt").write_text("\n".join(ids) + "\n")
    (folder / "class_labels.txt").write_text("c/a.jpg,1\nc/b.jpg,0\n")
    (folder / "image_sizes.txt").write_text("c/a.jpg,60,40\nc/b.jpg,60,40\n")
    (folder / "localization.txt").write_text(localization)
    return folder


def test_wsol_metadata_several_boxes_per_image(tmp_path):
    write_metadata(tmp_path, "c/a.jpg,1,2,30,20\nc/b.jpg,0,0,10,10\nc/a.jpg,5,5,60,40\n")
    records = load_split("wsol_metadata", str(tmp_path), "test")
    np.testing.assert_array_equal(records.num_boxes, [2, 1])
    np.testing.assert_array_equal(records.boxes[0], [[1, 2, 30, 20], [5, 5, 60, 40]])
    np.testing.assert_array_equal(records.labels, [1, 0])
    assert records.class_names == ["class_0", "class_1"]
    batch = next(iter(make_dataset(records, training=False, image_size=(20, 30), batch_size=2,
                                   eval_resize="resize")))  # fmt: skip
    np.testing.assert_allclose(batch["boxes"].numpy()[0], [[0.5, 1, 15, 10], [2.5, 2.5, 30, 20]])


def test_wsol_metadata_lines_of_images_not_listed_are_ignored_and_counted(tmp_path, caplog):
    # Was: "unknown image id", so image_ids.txt cut down to a subset (the way to evaluate part
    # of a split with wsolevaluation, which reads the other files into dicts) did not load.
    folder = write_metadata(tmp_path, "c/a.jpg,1,2,30,20\nc/b.jpg,0,0,10,10\nc/b.jpg,1,1,9,9\n")
    (folder / "image_ids.txt").write_text("c/a.jpg\n")
    (folder / "class_labels.txt").write_text("c/a.jpg,1\nc/b.jpg,2\n")
    with caplog.at_level("WARNING", logger="wsol_tf.data"):
        records = load_split("wsol_metadata", str(tmp_path), "test")
    assert records.image_ids == ["c/a.jpg"] and records.labels.tolist() == [1]
    np.testing.assert_array_equal(records.boxes[0, :1], [[1, 2, 30, 20]])
    assert records.class_names == ["class_0", "class_1", "class_2"]  # b's label still counts
    text = caplog.text
    assert "localization.txt: 2 line(s) name no image of image_ids.txt (first: line 2" in text
    assert "image_sizes.txt: 1 line(s)" in text and "class_labels.txt: 1 line(s)" in text


def test_wsol_metadata_classes_count_every_split(tmp_path):
    # A test split without images of the last class keeps the class count of the folder
    # (before: max label of the split + 1, so a 3-class model could not be evaluated on it).
    write_metadata(tmp_path, "c/a.jpg,1,2,30,20\nc/b.jpg,0,0,10,10\n")
    train = tmp_path / "wsol_metadata" / "train"
    os.makedirs(train)
    (train / "class_labels.txt").write_text("c/a.jpg,1\nc/b.jpg,2\nbad line\n")
    (tmp_path / "wsol_metadata" / "val").mkdir()  # a split folder without labels: ignored
    records = load_split("wsol_metadata", str(tmp_path), "test")
    assert records.class_names == ["class_0", "class_1", "class_2"]
    np.testing.assert_array_equal(records.labels, [1, 0])


@pytest.mark.parametrize(
    "line, message",
    [
        ("c/a.jpg,1,2,x,20", r"localization.txt:2: box coordinates must be numbers"),
        ("c/a.jpg,1,2,30", r"localization.txt:2: expected 3 or 5"),
        ("c/a.jpg,1,2,61,20", r"localization.txt:2: box outside 60x40"),
        ("c/a.jpg,-1,2,30,20", r"localization.txt:2: box outside 60x40"),  # the left edge too
        ("c/a.jpg,1,-2,30,20", r"localization.txt:2: box outside 60x40"),  # and the top
        ("c/a.jpg,30,2,10,20", r"localization.txt:2: box has x1 < x0"),
    ],
)
def test_wsol_metadata_malformed_line_named(tmp_path, line, message):
    write_metadata(tmp_path, f"c/b.jpg,0,0,10,10\n{line}\n")
    with pytest.raises(ValueError, match=message):
        load_split("wsol_metadata", str(tmp_path), "test")


def test_wsol_metadata_training_split_without_localization(tmp_path):
    # wsolevaluation's OpenImages (and ILSVRC) train splits have image_ids.txt and
    # class_labels.txt only. Was: FileNotFoundError "missing file .../localization.txt".
    folder = write_metadata(tmp_path, "")
    os.remove(folder / "localization.txt")
    os.remove(folder / "image_sizes.txt")
    records = load_split("wsol_metadata", str(tmp_path), "test")
    np.testing.assert_array_equal(records.labels, [1, 0])
    assert (records.num_boxes == 0).all() and records.mask_paths is None
    batch = next(iter(make_dataset(records, training=True, image_size=(16, 16), batch_size=2)))
    assert batch["image"].shape == (2, 16, 16, 3)


def test_wsol_metadata_missing_image_named(tmp_path):
    write_metadata(tmp_path, "c/a.jpg,1,2,30,20\nc/b.jpg,0,0,10,10\n")
    os.remove(tmp_path / "c" / "b.jpg")
    with pytest.raises(FileNotFoundError, match=r"image_ids.txt:2: no image file .*b.jpg"):
        load_split("wsol_metadata", str(tmp_path), "test")


def test_wsol_metadata_missing_first_image_named_by_its_line(tmp_path):
    # Was: "image 'c/a.jpg' is neither in <data_dir> nor in <data_dir>/images; pass
    # image_root" (no such flag in train or evaluate; the image root was fine).
    write_metadata(tmp_path, "c/a.jpg,1,2,30,20\nc/b.jpg,0,0,10,10\n")
    os.remove(tmp_path / "c" / "a.jpg")
    with pytest.raises(FileNotFoundError, match=r"image_ids.txt:1: no image file .*a.jpg"):
        load_split("wsol_metadata", str(tmp_path), "test")
    os.remove(tmp_path / "c" / "b.jpg")
    with pytest.raises(FileNotFoundError, match=r"no image of image_ids.txt \(first: 'c/a.jpg'\)"):
        load_split("wsol_metadata", str(tmp_path), "test")


def test_wsol_metadata_image_size_of_zero_named(tmp_path):
    # Was named as "localization.txt:1: box outside 0x40", not the size line that is wrong.
    folder = write_metadata(tmp_path, "c/a.jpg,1,2,30,20\n")
    (folder / "image_sizes.txt").write_text("c/a.jpg,0,40\nc/b.jpg,60,40\n")
    with pytest.raises(ValueError, match=r"image_sizes.txt:1: width and height must be whole"):
        load_split("wsol_metadata", str(tmp_path), "test")


def test_wsol_metadata_openimages_masks(tmp_path):
    write_metadata(tmp_path, "c/a.jpg,c/a_m1.png,c/ignore.png\nc/a.jpg,c/a_m2.png,\n"
                   "c/b.jpg,c/b_m.png,\n")  # fmt: skip
    records = load_split("wsol_metadata", str(tmp_path), "test")
    assert [[os.path.basename(m) for m in ms] for ms in records.mask_paths] == [
        ["a_m1.png", "a_m2.png"],
        ["b_m.png"],
    ]
    assert [len(i) for i in records.ignore_paths] == [1, 0]
    assert (records.num_boxes == 0).all()


def test_folder_source_trains_without_boxes(tmp_path):
    for k, name in enumerate(["zebra", "ant"]):
        os.makedirs(tmp_path / name)
        for j in range(3):
            (tmp_path / name / f"{j}.jpg").write_bytes(jpeg_bytes(bgr(24 + j, 32, k)))
    records = load_split("folder", str(tmp_path), "train")
    assert records.class_names == ["ant", "zebra"]
    np.testing.assert_array_equal(records.labels, [0, 0, 0, 1, 1, 1])
    batch = next(iter(make_dataset(records, training=True, image_size=16, batch_size=6)))
    np.testing.assert_array_equal(batch["num_boxes"].numpy(), 0)
    assert batch["image"].shape == (6, 16, 16, 3)
    with pytest.raises(FileNotFoundError, match="no test/ subfolder"):
        load_split("folder", str(tmp_path), "test")
    # A file given as the folder was said not to exist.
    with pytest.raises(FileNotFoundError, match=r"0.jpg is a file, not a folder"):
        load_split("folder", str(tmp_path / "ant" / "0.jpg"), "train")


def test_cub_held_out_val(tmp_path):
    write_cub(tmp_path, classes=(3, 7, 9), per_class=6)  # 3 train images per class
    full = load_cub(tmp_path, "train")
    train = load_split("cub", str(tmp_path), "train", val_per_class=2, val_seed=1)
    val = load_split("cub", str(tmp_path), "val", val_per_class=2, val_seed=1)
    assert sorted(train.image_ids + val.image_ids) == full.image_ids
    assert not set(train.image_ids) & set(val.image_ids)
    np.testing.assert_array_equal(np.bincount(val.labels), [2, 2, 2])
    again = load_split("cub", str(tmp_path), "val", val_per_class=2, val_seed=1)
    assert again.image_ids == val.image_ids
    other = [load_split("cub", str(tmp_path), "val", val_per_class=2, val_seed=s).image_ids
             for s in range(2, 6)]  # fmt: skip
    assert any(o != val.image_ids for o in other)
    assert (
        load_cub(tmp_path, "test").image_ids
        == load_split("cub", str(tmp_path), "test", val_per_class=2).image_ids
    )
    with pytest.raises(ValueError, match="would leave none"):
        load_split("cub", str(tmp_path), "val", val_per_class=3)


def test_cub_held_out_val_scoremaps_are_named_by_their_path_under_images(tmp_path):
    # Was: ValueError "... is not inside the dataset folder <dir> (val: 1/class)": the val
    # split's source (a message) was taken for the folder score maps are named under, so
    # --save_scoremaps and --scoremaps refused the val split.
    from wsol_tf.evaluation.evaluator import evaluate_scoremaps
    from wsol_tf.evaluation.scoremap_files import save_scoremap
    from wsol_tf.evaluation.sources import FileEvalSource

    write_cub(tmp_path, classes=(3, 7), per_class=4)
    val = load_split("cub", str(tmp_path), "val", val_per_class=1)
    source = FileEvalSource(val)
    ids = [source.image_id(row) for row in range(len(val))]
    assert [str(tmp_path / "images" / i) for i in ids] == val.image_paths
    for image_id in ids:  # a map on the whole 14 x 10 image; GT box 1 2 6 8 of it
        save_scoremap(str(tmp_path / "maps"), image_id, np.ones((10, 14)))
    result = evaluate_scoremaps(str(tmp_path / "maps"), val, print_fn=lambda _: None)
    assert result["num_images"] == 2 and result["num_unused_scoremaps"] == 0


def test_load_split_refuses_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="--dataset='coco'"):
        load_split("coco", str(tmp_path), "train")
    with pytest.raises(ValueError, match="unknown option 'val_per_class'"):
        load_split("imagenet", str(tmp_path), "val", val_per_class=3)
    with pytest.raises(ValueError, match="needs --data_dir"):
        load_split("wsol_metadata", None, "test")


def test_imagenet_train_keeps_files_that_differ_only_in_extension(tmp_path):
    write_imagenet(tmp_path)
    (tmp_path / "train" / "n010" / "n010_0.png").write_bytes(png_bytes(bgr(20, 30)))
    train = load_split("imagenet", str(tmp_path), "train")
    ids = [i for i in train.image_ids if i.startswith("train/n010/")]
    assert ids == ["train/n010/n010_0.JPEG", "train/n010/n010_0.png", "train/n010/n010_1.JPEG"]
    assert len(train) == 7
    np.testing.assert_array_equal(train.labels[[train.image_ids.index(i) for i in ids]], 1)


def test_imagenet_lists_every_format_the_decoder_reads(tmp_path):
    # Was: only .jpeg/.jpg/.png, so a .bmp, .gif or .webp image (and a val image's boxes)
    # left the split unseen. Now the extensions of --dataset=folder and localize.
    import cv2

    write_imagenet(tmp_path, csv=True)
    ok, webp = cv2.imencode(".webp", bgr(20, 30))
    assert ok
    os.remove(tmp_path / "val" / "v2.JPEG")
    (tmp_path / "val" / "v2.WebP").write_bytes(webp.tobytes())
    ok, bmp = cv2.imencode(".bmp", bgr(18, 26))
    assert ok
    (tmp_path / "train" / "n010" / "extra.bmp").write_bytes(bmp.tobytes())
    val = load_split("imagenet", str(tmp_path), "val")
    assert val.image_ids == ["val/v1.JPEG", "val/v2.WebP"]
    np.testing.assert_array_equal(val.boxes[1, 0], [0, 0, 9, 9])
    train = load_split("imagenet", str(tmp_path), "train")
    assert "train/n010/extra.bmp" in train.image_ids


@pytest.mark.parametrize(
    "first, second",
    [("n010/v1.JPEG", "n030/v1.JPEG"), ("v1.JPEG", "v1.png")],
)
def test_imagenet_val_images_sharing_a_name_are_refused(tmp_path, first, second):
    write_imagenet(tmp_path)
    os.remove(tmp_path / "val" / "v1.JPEG")
    for rel in (first, second):
        os.makedirs(os.path.dirname(tmp_path / "val" / rel), exist_ok=True)
        (tmp_path / "val" / rel).write_bytes(jpeg_bytes(bgr(20, 30)))
    with pytest.raises(ValueError, match="two validation images named 'v1'") as error:
        load_split("imagenet", str(tmp_path), "val")
    assert str(tmp_path / "val" / first) in str(error.value)
    assert str(tmp_path / "val" / second) in str(error.value)


def test_imagenet_val_in_class_subfolders(tmp_path):
    write_imagenet(tmp_path)
    os.makedirs(tmp_path / "val" / "n030")
    os.rename(tmp_path / "val" / "v2.JPEG", tmp_path / "val" / "n030" / "v2.JPEG")
    val = load_split("imagenet", str(tmp_path), "val")
    assert val.image_ids == ["val/v1.JPEG", "val/n030/v2.JPEG"]
    np.testing.assert_array_equal(val.labels, [1, 2])


def test_imagenet_xml_size_written_as_float(tmp_path):
    write_imagenet(tmp_path)
    xml = tmp_path / "bbox_val" / "v2.xml"
    xml.write_text(xml.read_text().replace("<width>30<", "<width>30.0<"))
    val = load_split("imagenet", str(tmp_path), "val")
    np.testing.assert_array_equal(val.image_sizes, [[30, 20], [30, 20]])
    xml.write_text(xml.read_text().replace("<width>30.0<", "<width>thirty<"))
    with pytest.raises(ValueError, match=r"v2.xml: <width> must be a number >= 0, got 'thirty'"):
        load_split("imagenet", str(tmp_path), "val")


def test_imagenet_byte_order_marks_are_skipped(tmp_path):
    write_imagenet(tmp_path, csv=True)
    for name in ["LOC_synset_mapping.txt", "LOC_val_solution.csv"]:
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    val = load_split("imagenet", str(tmp_path), "val")
    assert val.class_names[0] == "n020 name n02"
    np.testing.assert_array_equal(val.labels, [1, 2])


def test_wsol_metadata_byte_order_marks_are_skipped(tmp_path):
    folder = write_metadata(tmp_path, "c/a.jpg,1,2,30,20\nc/b.jpg,0,0,10,10\n")
    for name in ["image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"]:
        path = folder / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    records = load_split("wsol_metadata", str(tmp_path), "test")
    assert records.image_ids == ["c/a.jpg", "c/b.jpg"]
    np.testing.assert_array_equal(records.labels, [1, 0])
    np.testing.assert_array_equal(records.image_sizes, [[60, 40], [60, 40]])
    np.testing.assert_array_equal(records.boxes[:, 0], [[1, 2, 30, 20], [0, 0, 10, 10]])


def test_folder_lists_a_broken_link_so_it_is_skipped_counted_and_named(tmp_path):
    # Was: a .jpg symbolic link whose target is gone vanished from the split unseen (no
    # count, no name), while localize on the same folder listed it as unreadable. Now it is
    # in the split and the pipeline skips and names it; a folder named like an image is not.
    from wsol_tf.data.decode import SkipLog

    os.makedirs(tmp_path / "cls" / "folder.jpg")
    (tmp_path / "cls" / "a.jpg").write_bytes(jpeg_bytes(bgr(12, 20)))
    os.symlink(tmp_path / "gone.jpg", tmp_path / "cls" / "b.jpg")
    records = load_split("folder", str(tmp_path), "train")
    assert records.image_ids == ["cls/a.jpg", "cls/b.jpg"]
    log = SkipLog()
    batches = list(make_dataset(records, training=False, image_size=(8, 12), batch_size=2,
                                skip_log=log))  # fmt: skip
    assert [int(i) for b in batches for i in b["index"]] == [0]
    assert [e["path"] for e in log.entries()] == [str(tmp_path / "cls" / "b.jpg")]


def test_folder_source_reads_webp_any_case(tmp_path):
    import cv2

    os.makedirs(tmp_path / "cls")
    for name in ["a.webp", "b.WebP", "c.JPG"]:
        ok, data = cv2.imencode(".webp" if "webp" in name.lower() else ".jpg", bgr(10, 14))
        assert ok
        (tmp_path / "cls" / name).write_bytes(data.tobytes())
    (tmp_path / "cls" / "notes.txt").write_text("not an image")
    records = load_split("folder", str(tmp_path), "train")
    assert records.image_ids == ["cls/a.webp", "cls/b.WebP", "cls/c.JPG"]
    image = decode_image(str(tmp_path / "cls" / "b.WebP"))
    assert image.shape == (10, 14, 3)  # (H, W, 3): the decoder reads WebP


@pytest.mark.parametrize("source", ["wsol_metadata", "imagenet"])
def test_boxes_are_in_the_stated_size_of_an_image_resized_after_annotation(tmp_path, source):
    # The annotation states 120 x 80 (image_sizes.txt, the XML's <size>) and its boxes are in
    # those pixels; the file was since resized to 60 x 40. wsolevaluation rescales from
    # image_sizes.txt: int(60 * 224 / 120) = 112, ... Was: scaled from the file's 60 x 40, the
    # box landed at 224, 224, 444, 442 (outside the input) and counted as "outside the image".
    from wsol_tf.data.check import split_report
    from wsol_tf.evaluation.sources import FileEvalSource

    if source == "wsol_metadata":
        folder = write_metadata(tmp_path, "c/a.jpg,60,40,119,79\nc/b.jpg,0,0,59,39\n")
        (folder / "image_sizes.txt").write_text("c/a.jpg,120,80\nc/b.jpg,60,40\n")
        split = "test"
    else:
        write_imagenet(tmp_path)  # val images 30 x 20; v1's XML now states 120 x 80
        xml = tmp_path / "bbox_val" / "v1.xml"
        xml.write_text(XML.format(stem="v1", w=120, h=80, objects=OBJECT.format(
            60, 40, 119, 79, wnid="n010")))  # fmt: skip
        split = "val"
    records = load_split(source, str(tmp_path), split)
    evaluated = FileEvalSource(records)
    expected = [[112, 112, 222, 221]]  # as wsolevaluation's resize_bbox, to 224 x 224
    np.testing.assert_array_equal(evaluated.gt(0, (224, 224), None), expected)
    assert evaluated.suspect_report() is None
    batch = next(iter(make_dataset(records, training=False, image_size=(40, 60), batch_size=2,
                                   eval_resize="resize")))  # fmt: skip
    np.testing.assert_allclose(batch["boxes"].numpy()[0, 0], [30, 20, 59.5, 39.5])
    sizes = np.array([[60, 40], [60, 40]]) if source == "wsol_metadata" else [[30, 20]] * 2
    boxes = [records.boxes[i, : records.num_boxes[i]] for i in range(2)]
    report = split_report(records, np.array(sizes), boxes, records.labels, [])
    assert report["suspect_boxes"] == [] and report["boxes_outside_image"] == 0
    assert report["size_mismatches"] == 1  # reported, and scored right


def test_imagenet_xml_without_size_is_no_size_mismatch(tmp_path):
    # Was: counted as an image "whose size differs from the annotation" (0 x 0 vs 30 x 20).
    from wsol_tf.data.check import split_report

    write_imagenet(tmp_path)
    xml = tmp_path / "bbox_val" / "v2.xml"
    xml.write_text(xml.read_text().replace("<size><width>30</width><height>20</height>", "<size>")
                   .replace("<size><depth>3</depth></size>", ""))  # fmt: skip
    val = load_split("imagenet", str(tmp_path), "val")
    np.testing.assert_array_equal(val.image_sizes, [[30, 20], [0, 0]])
    boxes = [val.boxes[i, : val.num_boxes[i]] for i in range(2)]
    report = split_report(val, np.array([[30, 20], [30, 20]]), boxes, val.labels, [])
    assert report["size_mismatches"] == 0 and report["suspect_boxes"] == []


@pytest.mark.parametrize("csv", [False, True])
def test_imagenet_val_keeps_only_the_boxes_of_the_label_class(tmp_path, csv):
    # v1 holds two n010 objects and, added here, an n030 object: the label is n010 (the first
    # object's class) and GT-known must not take the n030 box as a hit. Was: all 3 boxes kept.
    write_imagenet(tmp_path, csv=csv)
    if csv:
        path = tmp_path / "LOC_val_solution.csv"
        path.write_text(path.read_text().replace("n010 5 6 25 19", "n010 5 6 25 19 n030 0 0 29 19"))
    else:
        xml = tmp_path / "bbox_val" / "v1.xml"
        other = OBJECT.format(0, 0, 29, 19, wnid="n030")
        xml.write_text(xml.read_text().replace("</annotation>", other + "</annotation>"))
    val = load_split("imagenet", str(tmp_path), "val")
    np.testing.assert_array_equal(val.labels, [1, 2])
    np.testing.assert_array_equal(val.num_boxes, [2, 1])
    np.testing.assert_array_equal(val.boxes[0, :2], [[1, 2, 10, 12], [5, 6, 25, 19]])


def test_folder_lists_a_loop_of_links_as_unreadable_and_no_class(tmp_path):
    # Was: a symbolic link to itself, among the images or beside the class folders, stopped
    # the listing ("Too many levels of symbolic links": DirEntry.is_file/is_dir raise on it).
    # Now it is listed like a broken link (skipped and named by the pipeline), and no class.
    os.makedirs(tmp_path / "cls")
    (tmp_path / "cls" / "a.jpg").write_bytes(jpeg_bytes(bgr(12, 20)))
    os.symlink("b.jpg", tmp_path / "cls" / "b.jpg")
    os.symlink("loop", tmp_path / "loop")
    records = load_split("folder", str(tmp_path), "train")
    assert records.class_names == ["cls"]
    assert records.image_ids == ["cls/a.jpg", "cls/b.jpg"]


def test_folder_reads_an_image_whose_name_is_not_utf8(tmp_path):
    # Was: a file name that is not UTF-8 (Latin-1 "café.jpg", which Python lists with a
    # surrogate escape) could not become a tf.string: the folder's pipeline (train, data check)
    # stopped with a message naming no file, and localize skipped the good image as unreadable.
    # Now paths reach TensorFlow as the file system's bytes (`decode.path_bytes`).
    from wsol_tf.data.decode import SkipLog, why_unreadable
    from wsol_tf.deployment.localizer import read_image

    os.makedirs(tmp_path / "cls")
    (tmp_path / "cls" / "a.jpg").write_bytes(jpeg_bytes(bgr(12, 20)))
    latin = os.path.join(os.fsencode(tmp_path), b"cls", b"caf\xe9.jpg")
    with open(latin, "wb") as f:
        f.write(jpeg_bytes(bgr(12, 20)))
    records = load_split("folder", str(tmp_path), "train")
    assert records.image_paths[1] == os.fsdecode(latin)
    log = SkipLog()
    batches = list(make_dataset(records, training=False, image_size=(8, 12), batch_size=2,
                                skip_log=log))  # fmt: skip
    assert [int(i) for b in batches for i in b["index"]] == [0, 1] and len(log) == 0
    assert why_unreadable(os.fsdecode(latin)) is None
    assert read_image(os.fsdecode(latin)).shape == (12, 20, 3)


# --- Datasets are records: one per dataset, registered by the module that reads it. -------


def test_every_source_module_registers_its_datasets():
    """The scan reaches every module of data/ outside the machinery, each registers what it
    reads, and the records say what load_split and check used to hard-code."""
    import pkgutil

    import wsol_tf.data
    from wsol_tf.data import datasets

    registered_by = {}
    for name, record in datasets.DATASETS.items():
        module = getattr(record.load, "func", record.load).__module__
        registered_by.setdefault(module.rsplit(".", 1)[1], []).append(name)
    sources = {
        m.name
        for m in pkgutil.iter_modules(wsol_tf.data.__path__)
        if m.name not in datasets.MACHINERY and not m.name.startswith("_")
    }
    assert set(registered_by) == sources
    assert sorted(registered_by["tfds_sources"]) == ["tfds_cub", "tfds_imagenet", "tfds_pets"]
    assert datasets.DATASETS.names()[0] == "synthetic"  # the default, listed first
    assert datasets.with_option("follow_outside_links") == ("cub", "wsol_metadata")
    needing = [n for n, r in datasets.DATASETS.items() if r.needs_data_dir]
    assert needing == ["cub", "folder", "imagenet", "wsol_metadata"]
    assert datasets.get("tfds_imagenet").splits_in(None) == ["train", "val"]
    assert datasets.get("folder").splits_in("anything") == ["train"]
    assert datasets.get("synthetic").generator_key is not None


def test_default_splits_of_a_folder_come_from_its_record(tmp_path):
    from wsol_tf.data import datasets

    (tmp_path / "val").mkdir()
    assert datasets.get("imagenet").splits_in(str(tmp_path)) == ["val"]
    assert datasets.get("wsol_metadata").splits_in(str(tmp_path)) == []
    for split in ("test", "train"):
        (tmp_path / "wsol_metadata" / split).mkdir(parents=True)
    assert datasets.get("wsol_metadata").splits_in(str(tmp_path)) == ["test", "train"]


def test_a_new_dataset_is_one_record(tmp_path):
    """What ARCHITECTURE.md's "How to add a dataset" promises: the record alone gives the
    name, its options (others refused by name), its folder rule and check's splits."""
    from wsol_tf.data import check, datasets
    from wsol_tf.data.dataset import DATASETS, Dataset

    calls = []

    def load_toy(data_dir, split, scale=1):
        calls.append((data_dir, split, scale))
        return load_cub(data_dir, split)

    write_cub(tmp_path, classes=(3,))  # one train and one test image
    DATASETS.add("toy", Dataset(load=load_toy, options=("scale",), needs_data_dir=True,
                                default_splits=("test",)))  # fmt: skip
    try:
        records = load_split("toy", str(tmp_path), "train", scale=2, unused=None)
        assert calls == [(str(tmp_path), "train", 2)] and len(records) == 1
        with pytest.raises(ValueError, match=r"unknown option 'val_seed' \(valid: scale\)"):
            load_split("toy", str(tmp_path), "train", val_seed=1)
        with pytest.raises(ValueError, match="--dataset=toy needs --data_dir"):
            load_split("toy", None, "train")
        assert "toy" in datasets.DATASETS.names()
        reports = check.check("toy", str(tmp_path), print_fn=lambda *_: None)
        assert list(reports) == ["test"] and reports["test"]["images"] == 1
    finally:
        DATASETS.remove("toy")
    with pytest.raises(ValueError, match="Unknown --dataset='toy'; valid datasets: synthetic, "):
        load_split("toy", str(tmp_path), "train")
