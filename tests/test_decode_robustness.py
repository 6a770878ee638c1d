"""Bad and unusual image files: CMYK, grayscale, PNG in .JPEG decode; broken files are skipped,
counted and named; a missing file is an error before training."""

import struct

import cv2
import numpy as np
import pytest
import tensorflow as tf
from image_files import bgr, cmyk_jpeg, exif_jpeg, gif_bytes, jpeg_bytes, palette_bmp, png_bytes

from wsol_tf.data.decode import SkipLog, decode_image, why_unreadable
from wsol_tf.data.pipeline import make_dataset
from wsol_tf.data.records import Records, pad_boxes
from wsol_tf.data.sizes import image_size_hw
from wsol_tf.evaluation.sources import original_size_hw


def test_cmyk_jpeg_decodes_to_rgb(tmp_path):
    # Adobe CMYK stores inverted ink: RGB = stored C/M/Y * stored K / 255.
    stored = np.zeros((16, 24, 4), np.uint8)
    stored[:, :8] = (255, 0, 0, 255)  # red
    stored[:, 8:16] = (0, 255, 0, 255)  # green
    stored[:, 16:] = (200, 100, 50, 128)  # (100.4, 50.2, 25.1)
    path = tmp_path / "cmyk.JPEG"
    path.write_bytes(cmyk_jpeg(stored))
    image = decode_image(str(path)).numpy()
    assert image.shape == (16, 24, 3)
    np.testing.assert_allclose(image[8, 3], [255, 0, 0], atol=3)
    np.testing.assert_allclose(image[8, 11], [0, 255, 0], atol=3)
    np.testing.assert_allclose(image[8, 20], [100.4, 50.2, 25.1], atol=3)


def test_grayscale_jpeg_becomes_three_equal_channels(tmp_path):
    data = jpeg_bytes(bgr(20, 30)[:, :, 0], quality=100)
    path = tmp_path / "gray.jpg"
    path.write_bytes(data)
    image = decode_image(str(path)).numpy()
    assert image.shape == (20, 30, 3)
    np.testing.assert_array_equal(image[..., 0], image[..., 2])
    # The reference: OpenCV's decoding of the same bytes (libjpeg IDCTs may differ by 1).
    reference = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert reference.ndim == 2
    np.testing.assert_allclose(image[..., 0], reference, atol=1)


def test_png_data_in_jpeg_file_decodes_exactly(tmp_path):
    image_bgr = bgr(12, 18)
    path = tmp_path / "actually_png.JPEG"
    path.write_bytes(png_bytes(image_bgr))
    np.testing.assert_array_equal(decode_image(str(path)).numpy(), image_bgr[..., ::-1])


def test_palette_bmp_decodes_through_its_colour_table(tmp_path):
    # Was: TensorFlow's BMP decoder gave the 8-bit table indices as grey levels, so a
    # colour-table BMP trained and evaluated as a wrong grey picture, silently.
    rng = np.random.default_rng(7)
    palette = rng.integers(0, 256, (6, 3), dtype=np.uint8)
    indices = rng.integers(0, 6, (5, 7), dtype=np.uint8)  # a width that needs row padding
    path = tmp_path / "palette.bmp"
    path.write_bytes(palette_bmp(indices, palette))
    np.testing.assert_array_equal(decode_image(str(path)).numpy(), palette[indices])
    # The reference decoder agrees; a grey ramp table (OpenCV's grey BMPs) stays grey.
    reference = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(palette[indices], reference)
    ok, grey = cv2.imencode(".bmp", indices * 40)
    assert ok
    (tmp_path / "grey.bmp").write_bytes(grey.tobytes())
    np.testing.assert_array_equal(decode_image(str(tmp_path / "grey.bmp")).numpy()[..., 1],
                                  indices * 40)  # fmt: skip


@pytest.mark.parametrize("bits", [1, 4])
def test_one_and_four_bit_bmps_decode_through_their_colour_table(tmp_path, bits):
    # Was: TensorFlow's BMP decoder refuses them ("Number of channels inherent in the image
    # must be 1, 3 or 4, was 0"), so a monochrome or 16-colour BMP (Paint's, a scanner's) was
    # skipped as unreadable. Now its packed indices are unpacked and looked up here.
    rng = np.random.default_rng(bits)
    palette = rng.integers(0, 256, (2**bits, 3), dtype=np.uint8)
    indices = rng.integers(0, 2**bits, (5, 11), dtype=np.uint8)  # rows need bits and padding
    path = tmp_path / f"b{bits}.bmp"
    path.write_bytes(palette_bmp(indices, palette, bits))
    np.testing.assert_array_equal(decode_image(str(path)).numpy(), palette[indices])
    reference = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(palette[indices], reference)
    path.write_bytes(path.read_bytes()[:-4])  # truncated: refused, named as one
    assert "truncated" in why_unreadable(str(path))


@pytest.fixture
def broken_records(tmp_path):
    """Five images: good, truncated JPEG, good PNG-in-JPEG, corrupt bytes, good."""
    files = {
        "a.jpg": jpeg_bytes(bgr(30, 40, 1)),
        "truncated.jpg": jpeg_bytes(bgr(30, 40, 2))[:300],
        "c.JPEG": png_bytes(bgr(40, 30, 3)),
        "corrupt.jpg": b"\xff\xd8 this is not a jpeg" * 20,
        "e.jpg": jpeg_bytes(bgr(36, 52, 4)),
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    boxes, num_boxes = pad_boxes([[[1, 2, 10, 12]]] * 5)
    return Records(paths, np.arange(5, dtype=np.int32) % 2, boxes, num_boxes, list(range(5)),
                   ["x", "y"])  # fmt: skip


@pytest.mark.parametrize("cache", [None, "memory"])
def test_broken_files_are_skipped_counted_and_named(broken_records, cache):
    log = SkipLog()
    dataset = make_dataset(broken_records, training=False, image_size=(16, 24), batch_size=2,
                           skip_log=log, cache=cache)  # fmt: skip
    indices = np.concatenate([b["index"].numpy() for b in dataset])
    np.testing.assert_array_equal(indices, [0, 2, 4])  # order kept, broken ones gone
    assert len(log) == 2
    entries = log.to_json()
    assert entries["num_skipped"] == 2
    assert [e["path"].rsplit("/", 1)[1] for e in entries["skipped"]] == [
        "corrupt.jpg",
        "truncated.jpg",
    ]
    assert all(e["reason"] for e in entries["skipped"])


def test_skipped_file_counted_once_over_epochs(broken_records):
    log = SkipLog()
    for epoch in range(2):
        ds = make_dataset(broken_records, training=True, image_size=(16, 16), batch_size=1,
                          epoch=epoch, skip_log=log)  # fmt: skip
        assert sorted(int(b["index"][0]) for b in ds) == [0, 2, 4]
    assert len(log) == 2


def test_skipped_files_are_logged(broken_records, caplog):
    with caplog.at_level("WARNING", logger="wsol_tf.data"):
        list(make_dataset(broken_records, training=False, image_size=16, batch_size=5,
                          skip_log=SkipLog()))  # fmt: skip
    assert "truncated.jpg" in caplog.text and "corrupt.jpg" in caplog.text


def test_why_unreadable(tmp_path, broken_records):
    assert why_unreadable(broken_records.image_paths[0]) is None
    assert why_unreadable(broken_records.image_paths[1])
    assert why_unreadable(str(tmp_path / "missing.jpg"))


def test_decode_image_raises_on_a_bad_file(broken_records):
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_image(broken_records.image_paths[3])


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_rotated_jpeg_size_and_pixels_are_the_stored_ones(tmp_path, orientation):
    # CUB/ImageNet boxes are in stored-pixel coordinates: the header size (box clipping),
    # the evaluator's size (box scaling) and the decoded pixels must all ignore EXIF
    # orientation, or a box would land on a turned image.
    image_bgr = bgr(20, 36, seed=5)
    path = tmp_path / "turned.jpg"
    data = exif_jpeg(image_bgr, orientation)
    path.write_bytes(data)
    decoded = decode_image(str(path)).numpy()
    assert decoded.shape == (20, 36, 3)
    assert image_size_hw(str(path)) == original_size_hw(str(path)) == (20, 36)
    # The same bytes as stored (OpenCV told to ignore the tag; libjpeg IDCTs may differ by 1).
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    stored = cv2.imdecode(np.frombuffer(data, np.uint8), flags)[..., ::-1]
    np.testing.assert_allclose(decoded, stored, atol=1)


def _gif(tmp_path, name, screen_hw, offset_yx=(0, 0)):
    """A 9 x 13 frame of 4 random colours on a GIF screen; (path, the frame as RGB)."""
    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, (4, 3), dtype=np.uint8)
    indices = rng.integers(0, 4, (9, 13), dtype=np.uint8)
    path = tmp_path / name
    path.write_bytes(gif_bytes(indices, palette, screen_hw, offset_yx))
    return str(path), palette[indices]


def test_gif_first_frame_smaller_than_its_screen_is_its_own_size(tmp_path):
    # Was: the header size was the GIF's screen (30 x 40) while the decoder gives the first
    # frame (9 x 13), so boxes were clipped to and scaled from a size the image is not.
    whole, rgb = _gif(tmp_path, "whole.gif", (9, 13))
    np.testing.assert_array_equal(cv2.imread(whole, cv2.IMREAD_COLOR)[..., ::-1], rgb)
    np.testing.assert_array_equal(decode_image(whole).numpy(), rgb)  # the writer is right
    small, rgb = _gif(tmp_path, "small.gif", (30, 40))
    np.testing.assert_array_equal(decode_image(small).numpy(), rgb)
    assert image_size_hw(small) == original_size_hw(small) == (9, 13)


def test_gif_first_frame_off_the_screen_corner_is_refused_and_named(tmp_path, broken_records):
    # TensorFlow draws such a frame at its offset inside a canvas of the frame's own size:
    # shifted and cut. Was: trained on that picture silently. Now skipped, counted, named.
    path, _ = _gif(tmp_path, "offset.gif", (30, 40), offset_yx=(5, 3))
    reason = why_unreadable(path)
    assert reason.startswith("a GIF whose first frame (13x9) starts at x 3, y 5"), reason
    with pytest.raises(tf.errors.InvalidArgumentError, match="not at the corner"):
        decode_image(path)
    records = Records([broken_records.image_paths[0], path], np.zeros(2, np.int32),
                      *pad_boxes([[[1, 2, 5, 6]]] * 2), [0, 1], ["x"])  # fmt: skip
    log = SkipLog()
    dataset = make_dataset(records, training=False, image_size=(16, 24), batch_size=2,
                           skip_log=log)  # fmt: skip
    assert [int(i) for b in dataset for i in b["index"]] == [0]
    assert log.to_json()["skipped"][0]["path"] == path
    assert log.to_json()["skipped"][0]["reason"] == reason


@pytest.mark.parametrize("quality, chunk", [(101, b"VP8L"), (80, b"VP8X")])  # lossless, lossy
def test_webp_with_alpha_decodes_to_its_colour_channels(tmp_path, quality, chunk):
    # Was: "Number of channels requested does not match input": every WebP with alpha was
    # skipped as unreadable (TensorFlow's WebP decoder refuses 3 channels for it).
    rng = np.random.default_rng(4)
    bgra = rng.integers(0, 256, (21, 34, 4), dtype=np.uint8)
    bgra[..., 3] = np.maximum(bgra[..., 3], 1)  # libwebp may rewrite colour under alpha 0
    path = str(tmp_path / "alpha.webp")
    assert cv2.imwrite(path, bgra, [cv2.IMWRITE_WEBP_QUALITY, quality])
    with open(path, "rb") as f:
        assert f.read(16)[12:16] == chunk  # the header layout this case is about
    reference = cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1]  # OpenCV drops alpha too
    if quality > 100:
        np.testing.assert_array_equal(reference, bgra[..., 2::-1])
    np.testing.assert_allclose(decode_image(path).numpy(), reference, atol=2)
    assert image_size_hw(path) == original_size_hw(path) == (21, 34)


def test_animated_webp_gives_its_first_frame_or_a_named_error_not_a_crash(tmp_path):
    # TensorFlow's WebP decoder aborts the process (heap corruption) on an animated file
    # asked for channels=0; decode never asks for that. With alpha: the first frame.
    # Without: TensorFlow decodes animations only as RGBA, so an error, skipped and named.
    image_module = pytest.importorskip("PIL.Image")  # Pillow comes with TensorBoard
    rng = np.random.default_rng(5)
    rgba = rng.integers(1, 256, (2, 18, 26, 4), dtype=np.uint8)
    frames = [image_module.fromarray(frame, "RGBA") for frame in rgba]
    with_alpha = str(tmp_path / "alpha.webp")
    frames[0].save(with_alpha, save_all=True, append_images=frames[1:], lossless=True)
    np.testing.assert_array_equal(decode_image(with_alpha).numpy(), rgba[0, ..., :3])
    assert image_size_hw(with_alpha) == (18, 26)
    frames = [image_module.fromarray(frame[..., :3]) for frame in rgba]
    opaque = str(tmp_path / "opaque.webp")
    frames[0].save(opaque, save_all=True, append_images=frames[1:], lossless=True)
    assert "RGBA" in why_unreadable(opaque)


def _claiming(data, kind, h, w):
    """PNG or baseline JPEG bytes whose size field claims h x w pixels (the data unchanged)."""
    data = bytearray(data)
    if kind == "png":  # IHDR: width, height (4 bytes each, big-endian)
        at = data.index(b"IHDR") + 4
        data[at : at + 8] = struct.pack(">II", w, h)
    else:  # start of frame: length (2), precision (1), height, width (2 bytes each)
        at = data.index(b"\xff\xc0") + 5
        data[at : at + 4] = struct.pack(">HH", h, w)
    return bytes(data)


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_a_header_claiming_too_many_pixels_is_refused_before_decoding(tmp_path, kind):
    # Was: decoded in full: a few kB of PNG claiming 40000 x 40000 pixels is 4.8 GB as
    # uint8 (19 GB as float32), times the pipeline's parallel reads. Now refused by its header
    # beyond Pillow's decompression-bomb bound, skipped and named like any unreadable file.
    from wsol_tf.data.decode import MAX_PIXELS

    small = png_bytes(bgr(6, 8)) if kind == "png" else jpeg_bytes(bgr(6, 8))
    path = tmp_path / f"bomb.{kind}"
    path.write_bytes(_claiming(small, kind, 40000, 50000))
    assert image_size_hw(str(path)) == (40000, 50000)
    reason = why_unreadable(str(path))
    assert f"more than {MAX_PIXELS}" in reason, reason
    assert 13000 * 13000 <= MAX_PIXELS < 40000 * 40000
    path.write_bytes(_claiming(small, kind, 13000, 13000))  # under it: the decoder's verdict
    assert "more than" not in (why_unreadable(str(path)) or "")
    path.write_bytes(small)
    assert why_unreadable(str(path)) is None


def test_a_16_bit_bmp_is_refused_with_a_reason_that_says_so(tmp_path):
    # Was: TensorFlow's "Number of channels inherent in the image must be 1, 3 or 4, was 2".
    h, w = 3, 5
    row = (w * 16 + 31) // 32 * 4
    pixels = bytes(row * h)  # RGB555, black
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 16, 0, len(pixels), 2835, 2835, 0, 0)
    path = tmp_path / "rgb555.bmp"
    path.write_bytes(b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) + info + pixels)
    assert image_size_hw(str(path)) == (3, 5)
    assert why_unreadable(str(path)).startswith("a 16-bit BMP, a depth neither TensorFlow")
