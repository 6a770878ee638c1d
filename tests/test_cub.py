"""CUB layout reader: golden boxes on the real files, split, class remap, bad input."""

import os

import numpy as np
import pytest
from conftest import CUB_MINI, needs_cub_mini

from wsol_tf.data.annotations import parse_box
from wsol_tf.data.cub import corner_box, load_cub


@needs_cub_mini
def test_real_cub_golden_box_and_split():
    train = load_cub(CUB_MINI, "train")
    test = load_cub(CUB_MINI, "test")
    assert (len(train), len(test)) == (300, 243)
    assert train.num_classes == test.num_classes == 10
    # bounding_boxes.txt line 1: "1 60.0 27.0 325.0 304.0" (x y w h) -> x0 y0 x1 y1.
    records = train if 1 in train.image_ids else test
    row = records.image_ids.index(1)
    np.testing.assert_array_equal(records.boxes[row, 0], [60, 27, 385, 331])
    assert records.num_boxes[row] == 1
    assert records.image_paths[row].endswith(
        "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"
    )
    assert records.labels[row] == 0
    assert set(np.unique(train.labels)) == set(range(10))
    assert train.class_names[0] == "001.Black_footed_Albatross"


def write_cub(root, classes=(3, 7), per_class=2, box_line=None):
    """A minimal CUB folder with tiny real JPEGs; class ids need not start at 1."""
    import cv2

    os.makedirs(root / "images", exist_ok=True)
    lines = {name: [] for name in ("images", "labels", "boxes", "split", "classes")}
    image_id = 0
    for c in classes:
        folder = f"{c:03d}.Bird_{c}"
        lines["classes"].append(f"{c} {folder}")
        os.makedirs(root / "images" / folder, exist_ok=True)
        for j in range(per_class):
            image_id += 1
            rel = f"{folder}/img_{image_id}.jpg"
            cv2.imwrite(str(root / "images" / rel), np.full((10, 14, 3), 40 * j, np.uint8))
            lines["images"].append(f"{image_id} {rel}")
            lines["labels"].append(f"{image_id} {c}")
            lines["boxes"].append(f"{image_id} 1.0 2.0 5.0 6.0")
            lines["split"].append(f"{image_id} {j % 2}")
    if box_line is not None:
        lines["boxes"][1] = box_line
    for name, file in [
        ("images", "images.txt"),
        ("labels", "image_class_labels.txt"),
        ("boxes", "bounding_boxes.txt"),
        ("split", "train_test_split.txt"),
        ("classes", "classes.txt"),
    ]:
        (root / file).write_text("\n".join(lines[name]) + "\n")
    return root


def test_an_unknown_split_names_the_flags_it_comes_from(tmp_path):
    # Was: "CUB split must be one of (...), got split='nope'": no flag named.
    with pytest.raises(ValueError, match=r"CUB has no split 'nope' \(the value of --split or "
                       r"--val_split\); valid: train, val, test"):  # fmt: skip
        load_cub(write_cub(tmp_path), "nope")


def test_class_ids_remapped_to_contiguous_indices(tmp_path):
    records = load_cub(write_cub(tmp_path, classes=(3, 7)), "test")
    assert records.class_names == ["003.Bird_3", "007.Bird_7"]
    np.testing.assert_array_equal(records.labels, [0, 1])
    np.testing.assert_array_equal(records.boxes[:, 0], [[1, 2, 6, 8], [1, 2, 6, 8]])


def test_paths_and_class_names_with_spaces_load(tmp_path):
    # Was: "expected 2 fields, got 3". The field after an id in images.txt and classes.txt is
    # the rest of the line, so a dataset in CUB's layout may name folders and files freely.
    write_cub(tmp_path, classes=(3, 7))
    os.rename(tmp_path / "images" / "003.Bird_3", tmp_path / "images" / "003.Bird three")
    os.rename(tmp_path / "images" / "003.Bird three" / "img_1.jpg",
              tmp_path / "images" / "003.Bird three" / "img 1.jpg")  # fmt: skip
    for name in ("images.txt", "classes.txt"):
        text = (tmp_path / name).read_text().replace("003.Bird_3", "003.Bird three")
        (tmp_path / name).write_text(text.replace("img_1.jpg", "img 1.jpg  "))
    records = load_cub(tmp_path, "test")
    assert records.class_names == ["003.Bird three", "007.Bird_7"]
    assert records.image_paths[0] == str(tmp_path / "images" / "003.Bird three" / "img 1.jpg")
    (tmp_path / "image_class_labels.txt").write_text("1 3 4\n")  # a number field stays one
    with pytest.raises(ValueError, match="image_class_labels.txt:1: cannot parse"):
        load_cub(tmp_path, "test")


def test_malformed_line_names_file_and_line(tmp_path):
    write_cub(tmp_path, box_line="2 1.0 2.0 five 6.0")
    with pytest.raises(ValueError, match=r"bounding_boxes.txt:2: cannot parse"):
        load_cub(tmp_path, "train")


@pytest.mark.parametrize("box_line", ["2 1e39 2.0 5.0 6.0", "2 1.0 3e38 5.0 3e38", "2 1 2 nan 6"])
def test_a_box_infinite_in_float32_names_file_and_line(tmp_path, box_line):
    # Was: 1e39 (or x + w past 3.4e38) passed as finite, then was stored as inf in float32.
    write_cub(tmp_path, box_line=box_line)
    with pytest.raises(ValueError, match=r"bounding_boxes.txt:2: cannot parse .* must be finit"):
        load_cub(tmp_path, "train")
    with pytest.raises(ValueError, match=r"f.txt:3: a box needs 4 finite numbers"):
        parse_box(["1", "2", "1e39", "5"], "f.txt", 3, "x 1 2 1e39 5")  # wsol_metadata's


def test_two_classes_with_one_name_are_refused_naming_both_lines(tmp_path):
    # Was: loaded, and the run's classes.json held the name twice (which class is it?).
    write_cub(tmp_path, classes=(3, 7))
    (tmp_path / "classes.txt").write_text("7 003.Bird_3\n3 003.Bird_3\n")
    match = r"classes.txt:2: class id 3 is named '003.Bird_3', as class id 7 \(line 1\)"
    with pytest.raises(ValueError, match=match):
        load_cub(tmp_path, "test")


def test_wrong_field_count_names_file_and_line(tmp_path):
    write_cub(tmp_path, box_line="2 1.0 2.0 6.0")
    with pytest.raises(ValueError, match=r"bounding_boxes.txt:2: expected 5 fields"):
        load_cub(tmp_path, "train")


def test_missing_image_file_is_named(tmp_path):
    write_cub(tmp_path)
    os.remove(tmp_path / "images" / "003.Bird_3" / "img_1.jpg")
    with pytest.raises(FileNotFoundError, match="img_1.jpg"):
        load_cub(tmp_path, "test")


def test_an_empty_images_txt_is_named(tmp_path):
    write_cub(tmp_path)
    (tmp_path / "images.txt").write_text("\n")
    with pytest.raises(ValueError, match=r"images.txt: lists no image"):
        load_cub(tmp_path, "train")


def test_missing_annotation_file_is_named(tmp_path):
    write_cub(tmp_path)
    os.remove(tmp_path / "train_test_split.txt")
    with pytest.raises(FileNotFoundError, match="train_test_split.txt"):
        load_cub(tmp_path, "train")


def test_unknown_split_refused(tmp_path):
    with pytest.raises(ValueError, match="split='val'"):
        load_cub(write_cub(tmp_path), "val")


@pytest.mark.parametrize(
    "xywh, size_hw, expected",
    [
        ((1, 2, 20, 20), (10, 14), [1, 2, 13, 9]),  # past right/bottom: clipped to W-1, H-1
        ((1, 2, 5, 6), (10, 14), [1, 2, 6, 8]),  # inside: unchanged
        ((13, 2, 5, 2), (10, 14), [13, 2, 13, 4]),  # starts on the last column: zero width
        ((500, 3, 2, 2), (10, 14), [500, 3, 502, 5]),  # starts past it: kept, not inverted
        ((3, 12, 2, 2), (10, 14), [3, 12, 5, 14]),  # starts below the last row: kept
        ((1, 2, 20, 20), None, [1, 2, 21, 22]),  # size unknown: as given
    ],
)
def test_corner_box_clips_without_inverting(xywh, size_hw, expected):
    assert corner_box(*xywh, size_hw) == expected


def test_box_starting_past_the_right_edge_stays_a_valid_box(tmp_path):
    # write_cub: 14 x 10 (w x h) images; image id 2 is in the train split.
    write_cub(tmp_path, box_line="2 500.0 3.0 2.0 2.0")
    records = load_cub(tmp_path, "train")
    row = records.image_ids.index(2)
    np.testing.assert_array_equal(records.boxes[row, 0], [500, 3, 502, 5])


def test_byte_order_mark_at_start_of_files_is_skipped(tmp_path):
    write_cub(tmp_path)
    for name in ["images.txt", "image_class_labels.txt", "bounding_boxes.txt",
                 "train_test_split.txt", "classes.txt"]:  # fmt: skip
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    records = load_cub(tmp_path, "test")
    assert records.image_ids == [1, 3]
    assert records.class_names == ["003.Bird_3", "007.Bird_7"]
    np.testing.assert_array_equal(records.boxes[:, 0], [[1, 2, 6, 8], [1, 2, 6, 8]])


@pytest.mark.parametrize(
    "quality, channels, chunk",
    [(80, 3, b"VP8 "), (101, 3, b"VP8L"), (80, 4, b"VP8X")],  # lossy, lossless, extended
)
def test_webp_header_size_so_boxes_on_webp_are_clipped(tmp_path, quality, channels, chunk):
    import cv2

    from wsol_tf.data.sizes import image_size_hw

    image = np.random.RandomState(0).randint(0, 255, (37, 53, channels), np.uint8)
    path = str(tmp_path / "bird.webp")
    assert cv2.imwrite(path, image, [cv2.IMWRITE_WEBP_QUALITY, quality])
    with open(path, "rb") as f:
        assert f.read(16)[12:16] == chunk  # the header layout this case is about
    assert image_size_hw(path) == (37, 53)  # (H, W)
    assert corner_box(1, 2, 60, 60, image_size_hw(path)) == [1, 2, 52, 36]


@pytest.mark.parametrize(
    "head",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x0e",  # cut inside the height
        b"GIF89a\x0e\x00",  # cut inside the height
    ],
)
def test_image_cut_inside_its_size_field_is_loaded_unclipped_not_a_crash(tmp_path, head):
    # Was: struct.error ("unpack requires a buffer of 8 bytes") out of load_cub, naming no
    # file. Now the size is unknown (None), the box kept as x + w, y + h, and the decoder
    # skips and names the file later.
    from wsol_tf.data.sizes import image_size_hw

    write_cub(tmp_path)  # image id 2: train split, box 1 2 5 6 in a 14 x 10 image
    records = load_cub(tmp_path, "train")
    row = records.image_ids.index(2)
    with open(records.image_paths[row], "wb") as f:
        f.write(head)
    assert image_size_hw(records.image_paths[row]) is None
    records = load_cub(tmp_path, "train")
    np.testing.assert_array_equal(records.boxes[row, 0], [1, 2, 6, 8])
