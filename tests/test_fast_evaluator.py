"""The faster evaluator gives the numbers of the plain one: the cropped, deduplicated contour
scan against one full-image cv2 pass per level, thread counts, header-read image sizes."""

import glob
import os

import cv2
import numpy as np
import pytest
from conftest import CUB_MINI, ILSVRC_MINI, needs_ilsvrc_mini
from image_files import gif_bytes

from wsol_tf.data.decode import decode_image
from wsol_tf.evaluation.boxes import boxes_by_level, contour_boxes_at_level
from wsol_tf.evaluation.metrics import LocalizationEvaluator


def _maps(seed=0):
    """uint8 maps that stress the scan: noise (many contours, holes), blocky maps (equal
    pixel values, tied contour areas), rings, maps touching every border, non-square."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(24):
        h, w = (int(v) for v in rng.integers(5, 48, 2))
        if k % 4 == 0:
            m = rng.random((h, w))
        else:
            small = rng.random((int(rng.integers(2, 7)), int(rng.integers(2, 7))))
            flag = cv2.INTER_NEAREST if k % 4 == 1 else cv2.INTER_CUBIC
            m = np.clip(cv2.resize(small, (w, h), interpolation=flag), 0, 1)
        out.append((m * 255).astype(np.uint8))
    ring = np.zeros((9, 13), np.uint8)
    ring[1:8, 2:11] = 200
    ring[3:6, 4:9] = 0  # a hole: its contour ties the outer one in area at some sizes
    ring[4, 6] = 250  # an island inside the hole
    out.append(ring)
    out.append(np.full((4, 7), 255, np.uint8))  # all foreground up to the border
    out.append(np.zeros((3, 3), np.uint8))
    return out


def test_fast_scan_equals_one_full_pass_per_level():
    for image in _maps():
        levels = list(range(-1, 257))
        fast = boxes_by_level(image, levels + [3, 3])
        assert sorted(fast) == levels
        for level in levels:
            if level >= int(image.max()):
                expected = (np.zeros((1, 4), np.int64), 0)
            else:
                expected = contour_boxes_at_level(image, level)
            boxes, largest = fast[level]
            assert largest == expected[1], (image.shape, level)
            np.testing.assert_array_equal(boxes, expected[0])


def _evaluate(maps, gts, workers):
    evaluator = LocalizationEvaluator(workers=workers)
    labels = np.arange(len(maps)) % 3
    counts = np.array([len(g) for g in gts])
    padded = np.zeros((len(maps), counts.max(), 4), np.int64)
    for i, g in enumerate(gts):
        padded[i, : len(g)] = g
    evaluator.accumulate(np.stack(maps), None, labels, labels, padded, counts)
    return evaluator.compute(), evaluator.per_image()


def test_thread_count_does_not_change_any_number():
    rng = np.random.default_rng(3)
    maps, gts = [], []
    for _ in range(10):
        small = rng.random((5, 7))
        m = cv2.resize(small, (44, 30), interpolation=cv2.INTER_CUBIC)
        maps.append((m - m.min()) / (m.max() - m.min()))
        x0, y0 = rng.integers(0, 20, 2)
        boxes = [[x0, y0, x0 + 15, y0 + 9], [2, 3, 30, 20]]
        gts.append(np.array(boxes[: 1 + int(rng.integers(2))]))
    one, records_one = _evaluate(maps, gts, 1)
    three, records_three = _evaluate(maps, gts, 3)
    assert one == three
    for key in records_one:
        np.testing.assert_array_equal(records_one[key], records_three[key])
    with pytest.raises(ValueError, match="workers"):
        LocalizationEvaluator(workers=0)


def _decoded_size(path):
    return tuple(int(v) for v in decode_image(path).shape[:2])


@needs_ilsvrc_mini
def test_header_sizes_equal_the_decoders(tmp_path):
    from wsol_tf.evaluation.sources import original_size_hw

    files = sorted(glob.glob(os.path.join(ILSVRC_MINI, "val", "*")))[:40]
    files += sorted(glob.glob(os.path.join(CUB_MINI, "images", "*", "*.jpg")))[:40]
    png = str(tmp_path / "a.png")
    cv2.imwrite(png, np.zeros((13, 21, 3), np.uint8))
    bmp = str(tmp_path / "b.bmp")
    cv2.imwrite(bmp, np.zeros((5, 8, 3), np.uint8))
    webp = str(tmp_path / "c.webp")  # lossy with alpha: an extended (VP8X) header
    cv2.imwrite(webp, np.full((7, 11, 4), 200, np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 80])
    gif = str(tmp_path / "d.gif")  # a first frame smaller than the GIF's screen
    (tmp_path / "d.gif").write_bytes(gif_bytes(np.ones((6, 9), np.uint8), np.eye(4, 3) * 255,
                                               screen_hw=(20, 30)))  # fmt: skip
    for path in [*files, png, bmp, webp, gif]:
        assert original_size_hw(path) == _decoded_size(path), path
    assert original_size_hw(png) == (13, 21)
