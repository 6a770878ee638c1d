"""EXIF orientation of users' photos (`wsol_tf.data.exif`), applied by localize only.

The parser is checked on hand-built JPEGs (both byte orders, every value, every truncation of
the segment, hostile headers), `apply_orientation` against hand-written arrays and against
OpenCV's decoder (which applies the tag unless told IMREAD_IGNORE_ORIENTATION), and
`localize` with a stand-in scorer (no model, no training): a sideways photo tagged 6 gives the
upright photo's size, box and overlay. The datasets keep the stored pixels
(tests/test_decode_robustness.py).
"""

import struct

import cv2
import numpy as np
import pytest
from image_files import _segment, bgr, exif_app1, exif_jpeg, jpeg_bytes, png_bytes

from wsol_tf.data.exif import apply_orientation, jpeg_exif_orientation

# --- the parser -------------------------------------------------------------------------------


@pytest.mark.parametrize("byte_order", ["MM", "II"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_parser_reads_every_orientation_in_both_byte_orders(orientation, byte_order):
    assert jpeg_exif_orientation(exif_jpeg(bgr(8, 12), orientation, byte_order)) == orientation


def _ifd0_with_others(orientation, byte_order):
    """APP1 "Exif" whose IFD0 holds Make (ASCII, value elsewhere) and XResolution before the
    orientation, the way cameras write it."""
    end = ">" if byte_order == "MM" else "<"
    entries = [
        struct.pack(end + "HHII", 0x010F, 2, 6, 8 + 2 + 3 * 12 + 4),  # Make: offset of "Phone"
        struct.pack(end + "HHII", 0x011A, 5, 1, 8 + 2 + 3 * 12 + 4 + 6),  # XResolution
        struct.pack(end + "HHIHH", 0x0112, 3, 1, orientation, 0),
    ]
    tiff = byte_order.encode() + struct.pack(end + "HIH", 42, 8, len(entries))
    tiff += b"".join(entries) + b"\x00" * 4 + b"Phone\x00" + struct.pack(end + "II", 72, 1)
    return _segment(0xE1, b"Exif\x00\x00" + tiff)


@pytest.mark.parametrize("byte_order", ["MM", "II"])
def test_parser_walks_past_other_segments_and_entries(byte_order):
    jpeg = jpeg_bytes(bgr(8, 12))  # SOI, APP0 (JFIF), ...
    app0_end = 4 + struct.unpack(">H", jpeg[4:6])[0]
    xmp = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>")
    data = jpeg[:app0_end] + b"\xff" + xmp + _ifd0_with_others(6, byte_order) + jpeg[app0_end:]
    assert jpeg_exif_orientation(data) == 6  # after APP0, a fill byte, an XMP APP1


def test_parser_gives_1_without_a_valid_tag():
    image = bgr(8, 12)
    jpeg = jpeg_bytes(image)
    assert jpeg_exif_orientation(jpeg) == 1  # no EXIF at all
    assert jpeg_exif_orientation(png_bytes(image)) == 1
    for value in (0, 9, 0xFFFF):
        assert jpeg_exif_orientation(exif_jpeg(image, value)) == 1
    for tag_type in (4, 9):  # LONG, SLONG: not the SHORT the standard says
        data = jpeg[:2] + exif_app1(6, tag_type=tag_type) + jpeg[2:]
        assert jpeg_exif_orientation(data) == 1
    after_scan = jpeg[:-2] + exif_app1(6) + jpeg[-2:]  # metadata is read before SOS only
    assert jpeg_exif_orientation(after_scan) == 1
    for junk in (b"", b"\xff\xd8\xff", "not bytes", None, 6):
        assert jpeg_exif_orientation(junk) == 1


def test_parser_gives_1_on_every_truncation_and_corruption_of_the_segment():
    data = exif_jpeg(bgr(8, 12), 6, "II")
    end = 2 + len(exif_app1(6, "II"))
    assert jpeg_exif_orientation(data[:end]) == 6  # the whole segment is enough
    for cut in range(end):
        assert jpeg_exif_orientation(data[:cut]) == 1, cut
    for at in range(2, end):  # any byte flipped: an int in 1..8, no exception
        corrupt = bytearray(data)
        corrupt[at] ^= 0xFF
        assert jpeg_exif_orientation(bytes(corrupt)) in range(1, 9), at


def test_parser_on_hostile_headers_returns_1_quickly():
    entry = struct.pack("<HHIHH", 0x0100, 3, 1, 5, 0)  # ImageWidth, not the orientation
    many = b"II" + struct.pack("<HIH", 42, 8, 0xFFFF) + entry * 5000  # count past the cap
    far = b"MM" + struct.pack(">HIH", 42, 0xFFFFFFF0, 1)  # IFD0 far past the segment
    self_loop = b"II" + struct.pack("<HI", 42, 0)  # IFD0 at the header itself
    for tiff in (many, far, self_loop):
        assert jpeg_exif_orientation(b"\xff\xd8" + _segment(0xE1, b"Exif\x00\x00" + tiff)) == 1
    empty_segments = b"\xff\xd8" + _segment(0xE0, b"") * 1000 + exif_app1(6)
    assert jpeg_exif_orientation(empty_segments) == 1  # past the cap on segments
    assert jpeg_exif_orientation(b"\xff\xd8" + b"\xff" * 100_000) == 1  # fill bytes only
    bad_length = b"\xff\xd8\xff\xe1\x00\x01" + exif_app1(6)  # length 1 < 2
    assert jpeg_exif_orientation(bad_length) == 1


# --- applying it ------------------------------------------------------------------------------

STORED = np.array([[1, 2, 3], [4, 5, 6]])
DISPLAYED = {
    1: [[1, 2, 3], [4, 5, 6]],
    2: [[3, 2, 1], [6, 5, 4]],  # mirrored left-right
    3: [[6, 5, 4], [3, 2, 1]],  # rotated 180
    4: [[4, 5, 6], [1, 2, 3]],  # mirrored top-bottom
    5: [[1, 4], [2, 5], [3, 6]],  # transposed: row 0 becomes column 0
    6: [[4, 1], [5, 2], [6, 3]],  # rotated 90 clockwise: the left column, upwards, on top
    7: [[6, 3], [5, 2], [4, 1]],  # transversed
    8: [[3, 6], [2, 5], [1, 4]],  # rotated 90 counter-clockwise: the right column on top
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_apply_orientation_by_hand(orientation):
    turned = apply_orientation(STORED, orientation)
    np.testing.assert_array_equal(turned, DISPLAYED[orientation])
    assert turned.flags.c_contiguous
    channels = np.stack([STORED, 10 * STORED, 100 * STORED], -1)  # (H, W, C): each channel
    expected = np.stack([np.array(DISPLAYED[orientation]) * k for k in (1, 10, 100)], -1)
    np.testing.assert_array_equal(apply_orientation(channels, orientation), expected)


def test_apply_orientation_refuses_a_value_outside_1_to_8():
    for value in (0, 9, None):
        with pytest.raises(ValueError, match="not one of 1..8"):
            apply_orientation(STORED, value)


@pytest.mark.parametrize("byte_order", ["MM", "II"])
def test_apply_orientation_is_what_opencv_shows(byte_order):
    # The reference: OpenCV applies the tag by default and not with IMREAD_IGNORE_ORIENTATION.
    # Same bytes, same IDCT: the pixels must match exactly, and 5..8 swap height and width.
    stored = bgr(13, 22, seed=4)
    stored[2:5, 3:9] = 255  # a mark off every axis of symmetry
    ignore = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    for orientation in range(1, 9):
        buffer = np.frombuffer(exif_jpeg(stored, orientation, byte_order), np.uint8)
        as_stored = cv2.imdecode(buffer, ignore)
        shown = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        assert as_stored.shape == (13, 22, 3)
        np.testing.assert_array_equal(apply_orientation(as_stored, orientation), shown)


# --- localize ---------------------------------------------------------------------------------


SIDES = ["left", "right"]


def bright_box_scorer(images, cam_threshold=None):
    """A stand-in for a trained model (`Localizer`'s outputs): the box of the bright pixels,
    a "class" from where they are (0: left half, 1: right half) and the brightness as CAM."""
    grey = np.asarray(images, np.float32)[0].mean(-1)
    ys, xs = np.nonzero(grey > 128)
    box = [xs.min(), ys.min(), xs.max(), ys.max()]
    right = float(xs.mean() > grey.shape[1] / 2)
    return {
        "scores": np.array([[1 - right, right]], np.float32) * 0.8 + 0.1,
        "box_original": np.array([box], np.int32),
        "box": np.array([box], np.int32),
        "box_found": np.array([True]),
        "cam": grey[None] / 255.0,
    }


def test_localize_turns_a_sideways_photo_upright(tmp_path):
    from wsol_tf.deployment.localizer import localize

    upright = np.full((40, 24, 3), 30, np.uint8)  # a portrait photo, (H, W) = (40, 24)
    upright[24:36, 3:11] = 240  # the object: low and on the left
    sideways = np.rot90(upright, 1)  # what the phone stores; its viewer turns it clockwise
    (tmp_path / "upright.jpg").write_bytes(jpeg_bytes(upright, quality=100))
    (tmp_path / "phone.jpg").write_bytes(exif_jpeg(np.ascontiguousarray(sideways), 6))
    results = {
        name: localize(bright_box_scorer, SIDES, str(tmp_path / f"{name}.jpg"),
                       out_dir=str(tmp_path), overlay_name=f"{name}_overlay.png", top_k=1)
        for name in ("upright", "phone")
    }  # fmt: skip
    upright_out, phone = results["upright"], results["phone"]
    assert upright_out["exif_orientation"] == 1 and phone["exif_orientation"] == 6
    assert phone["size"] == upright_out["size"] == [40, 24]
    assert phone["top_classes"][0]["name"] == upright_out["top_classes"][0]["name"] == "left"
    assert np.abs(np.subtract(phone["box"], upright_out["box"])).max() <= 1
    np.testing.assert_array_equal(upright_out["box"], [3, 24, 10, 35])
    pictures = [cv2.imread(r["overlay"]) for r in (upright_out, phone)]
    assert pictures[0].shape == pictures[1].shape == (40, 24, 3)
    assert np.abs(pictures[0].astype(int) - pictures[1]).mean() < 3
    # Off: the stored pixels, as the datasets read them.
    stored = localize(bright_box_scorer, SIDES, str(tmp_path / "phone.jpg"), top_k=1,
                      apply_exif_orientation=False)  # fmt: skip
    assert stored["exif_orientation"] == 1 and stored["size"] == [24, 40]
    assert stored["top_classes"][0]["name"] == "right" and stored["overlay"] is None
    assert np.abs(np.subtract(stored["box"], [24, 13, 35, 20])).max() <= 1
