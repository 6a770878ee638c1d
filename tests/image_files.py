"""Builds image files for the decoding tests: CMYK JPEG (no Pillow), truncated, corrupt."""

import struct

import cv2
import numpy as np


def _segments(jpeg):
    """{marker: [payload, ...]} of a baseline JPEG's header, plus the entropy-coded scan data."""
    assert jpeg[:2] == b"\xff\xd8"
    pos, found = 2, {}
    while True:
        marker = jpeg[pos + 1]
        length = struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
        payload = jpeg[pos + 4 : pos + 2 + length]
        found.setdefault(marker, []).append(payload)
        pos += 2 + length
        if marker == 0xDA:  # SOS: the scan data follows, up to EOI
            end = jpeg.rindex(b"\xff\xd9")
            return found, jpeg[pos:end]


def _segment(marker, payload):
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def cmyk_jpeg(stored_cmyk):
    """A 4-component (Adobe CMYK) JPEG of the (H, W, 4) uint8 `stored_cmyk` values.

    Each channel is encoded as a grayscale JPEG by OpenCV; their scans become the
    four single-component scans of one sequential JPEG with an Adobe APP14
    marker (transform 0 = CMYK), so no CMYK-capable encoder is needed.
    """
    h, w, _ = stored_cmyk.shape
    scans, tables = [], None
    for k in range(4):
        ok, buf = cv2.imencode(".jpg", stored_cmyk[:, :, k], [cv2.IMWRITE_JPEG_QUALITY, 100])
        assert ok
        found, data = _segments(buf.tobytes())
        tables = tables or found
        scans.append(data)
    adobe = b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0)
    sof = struct.pack(">BHHB", 8, h, w, 4) + b"".join(bytes([k + 1, 0x11, 0]) for k in range(4))
    out = b"\xff\xd8" + _segment(0xEE, adobe)
    out += b"".join(_segment(0xDB, p) for p in tables[0xDB])
    out += _segment(0xC0, sof)
    out += b"".join(_segment(0xC4, p) for p in tables[0xC4])
    for k in range(4):
        out += _segment(0xDA, bytes([1, k + 1, 0x00, 0, 63, 0])) + scans[k]
    return out + b"\xff\xd9"


def jpeg_bytes(image, quality=95):
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def png_bytes(image):
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def bgr(h, w, seed=0):
    """A smooth (H, W, 3) uint8 BGR test image (compresses well, decodes close)."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=3)
    image = np.stack([base[c] + 40 * np.sin((x + 2 * y) / (7.0 + c)) for c in range(3)], -1)
    return np.clip(image, 0, 255).astype(np.uint8)


def exif_app1(orientation, byte_order="MM", tag_type=3):
    """An APP1 "Exif" segment (marker and length included) whose IFD0 holds one entry: tag
    0x0112 = `orientation` as one `tag_type` value (3: SHORT), in `byte_order` ("MM": big
    endian, "II": little endian)."""
    end = ">" if byte_order == "MM" else "<"
    entry = struct.pack(end + "HHIHH", 0x0112, tag_type, 1, orientation, 0)  # left-justified
    tiff = byte_order.encode() + struct.pack(end + "HIH", 42, 8, 1) + entry + b"\x00" * 4
    return _segment(0xE1, b"Exif\x00\x00" + tiff)


def exif_jpeg(image, orientation, byte_order="MM"):
    """A JPEG of `image` (cv2 layout) with an EXIF APP1 segment right after SOI holding only
    `orientation` (tag 0x0112; 6: the viewer turns it 90 degrees clockwise)."""
    jpeg = jpeg_bytes(image)
    return jpeg[:2] + exif_app1(orientation, byte_order) + jpeg[2:]


def palette_bmp(indices, palette_rgb, bits=8):
    """A BMP of `bits` (1, 4 or 8) bits per pixel: (H, W) uint8 `indices` into `palette_rgb`
    ((n, 3) uint8 RGB), rows stored bottom-up, most significant bits first, padded to 4 bytes,
    as Windows writes them (no encoder needed)."""
    h, w = indices.shape
    row = (w * bits + 31) // 32 * 4
    per_byte = 8 // bits
    padded = np.zeros((h, row * per_byte), np.uint8)
    padded[:, :w] = indices
    groups = padded.reshape(h, row, per_byte).astype(np.int64)
    shifts = np.arange(8 - bits, -1, -bits)
    packed = (groups << shifts).sum(axis=2).astype(np.uint8)  # (h, row) bytes
    pixels = b"".join(packed[y].tobytes() for y in range(h - 1, -1, -1))
    table = b"".join(bytes([b, g, r, 0]) for r, g, b in np.asarray(palette_rgb, np.uint8))
    offset = 14 + 40 + len(table)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, bits, 0, len(pixels), 2835, 2835,
                       len(palette_rgb), 0)  # fmt: skip
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + table + pixels


def gif_bytes(indices, palette_rgb, screen_hw, offset_yx=(0, 0)):
    """A GIF89a of one frame: (h, w) uint8 `indices` (< 4) into a 4-colour global table
    `palette_rgb`, drawn at `offset_yx` on a logical screen of `screen_hw`, after a graphic
    control extension. The LZW stream sends a clear code before every second index, so its
    dictionary never outgrows 3-bit codes (valid, if not small; no encoder needed)."""
    h, w = indices.shape
    codes = []
    for i, index in enumerate(indices.ravel()):
        codes += [4, int(index)] if i % 2 == 0 else [int(index)]  # 4: clear
    codes.append(5)  # end of information
    stream = sum(code << (3 * i) for i, code in enumerate(codes))
    lzw = stream.to_bytes((3 * len(codes) + 7) // 8, "little")
    blocks = b"".join(bytes([len(lzw[i : i + 255])]) + lzw[i : i + 255]
                      for i in range(0, len(lzw), 255))  # fmt: skip
    table = np.asarray(palette_rgb, np.uint8).reshape(4, 3).tobytes()
    screen = struct.pack("<HHBBB", screen_hw[1], screen_hw[0], 0x81, 0, 0)  # 2^(1+1) colours
    control = b"\x21\xf9\x04\x00\x00\x00\x00\x00"
    frame = b"\x2c" + struct.pack("<HHHHB", offset_yx[1], offset_yx[0], w, h, 0)
    return b"GIF89a" + screen + table + control + frame + b"\x02" + blocks + b"\x00\x3b"
