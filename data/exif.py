"""EXIF orientation of user photos: read from a JPEG's bytes, applied to its pixels.

A phone stores a portrait photo as landscape pixels and an EXIF Orientation tag (0x0112)
telling viewers how to turn it. The datasets' boxes (CUB, ImageNet) are annotated on the
stored pixels, so `wsol_tf.data.decode` ignores the tag; only `python -m wsol_tf.localize`,
for anyone's photos, applies it (`jpeg_exif_orientation` then `apply_orientation`), so its
boxes and overlays are in the frame every viewer shows.

No TensorFlow here: the parser is pure Python, `apply_orientation` numpy.
"""

import numpy as np

__all__ = ["ORIENTATIONS", "apply_orientation", "jpeg_exif_orientation"]

# The EXIF values: how the stored pixels are turned to be displayed (TIFF 6.0 / EXIF 2.3).
ORIENTATIONS = {
    1: "as stored",
    2: "mirrored left-right",
    3: "rotated 180 degrees",
    4: "mirrored top-bottom",
    5: "transposed (mirrored left-right, then rotated 90 degrees counter-clockwise)",
    6: "rotated 90 degrees clockwise",
    7: "transversed (mirrored left-right, then rotated 90 degrees clockwise)",
    8: "rotated 90 degrees counter-clockwise",
}

_ORIENTATION_TAG = 0x0112
_SHORT = 3
# Bounds of the walk: a hostile file cannot make it long. Real JPEGs have a handful of
# segments before the scan and IFD0 a few dozen entries.
_MAX_SEGMENTS = 256
_MAX_ENTRIES = 1024


def _exif_tiff(data):
    """The TIFF bytes of a JPEG's first APP1 "Exif\\0\\0" segment before the scan, or None."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    pos = 2
    for _ in range(_MAX_SEGMENTS):
        if pos + 4 > len(data) or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before the marker
            pos += 1
            continue
        if marker in (0xD9, 0xDA):  # EOI, SOS: no metadata after this
            return None
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            return None
        payload = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and payload[:6] == b"Exif\x00\x00":
            return payload[6:]
        pos += 2 + length
    return None


def jpeg_exif_orientation(data: bytes) -> int:
    """The EXIF Orientation (1..8) of a JPEG's bytes: tag 0x0112 of IFD0 in its APP1 "Exif"
    segment, either byte order ("II", "MM"). 1 when the bytes are not a JPEG, hold no such
    tag, hold a value outside 1..8 or of another type than SHORT, or are truncated or
    malformed anywhere on the way: never raises on bad bytes, and walks at most
    `_MAX_SEGMENTS` segments and `_MAX_ENTRIES` entries (every offset is bounds-checked).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return 1
    tiff = _exif_tiff(bytes(data))
    if tiff is None or len(tiff) < 8:
        return 1
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None or int.from_bytes(tiff[2:4], order) != 42:
        return 1

    def number(offset, size):
        return int.from_bytes(tiff[offset : offset + size], order)

    ifd = number(4, 4)
    if ifd < 8 or ifd + 2 > len(tiff):
        return 1
    count = min(number(ifd, 2), _MAX_ENTRIES, (len(tiff) - ifd - 2) // 12)
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if number(entry, 2) != _ORIENTATION_TAG:
            continue
        if number(entry + 2, 2) != _SHORT or number(entry + 4, 4) < 1:
            return 1
        value = number(entry + 8, 2)  # one SHORT: left-justified in the value field
        return value if 1 <= value <= 8 else 1
    return 1


def apply_orientation(image, orientation):
    """`image` ((H, W) or (H, W, C) numpy array of stored pixels) in the frame a viewer shows
    for EXIF `orientation` (1..8, `ORIENTATIONS`): 5 to 8 swap height and width.

    Matches OpenCV's `cv2.imdecode` (which applies the tag unless told
    IMREAD_IGNORE_ORIENTATION) exactly. Returns a C-contiguous array (`image` itself for 1).

    Raises:
        ValueError for an orientation outside 1..8.
    """
    image = np.asarray(image)
    if orientation == 1:
        return image
    if orientation == 2:
        turned = image[:, ::-1]
    elif orientation == 3:
        turned = image[::-1, ::-1]
    elif orientation == 4:
        turned = image[::-1]
    elif orientation == 5:
        turned = np.swapaxes(image, 0, 1)
    elif orientation == 6:
        turned = np.swapaxes(image, 0, 1)[:, ::-1]
    elif orientation == 7:
        turned = np.swapaxes(image[::-1, ::-1], 0, 1)
    elif orientation == 8:
        turned = np.swapaxes(image, 0, 1)[::-1]
    else:
        raise ValueError(f"EXIF orientation {orientation!r} is not one of 1..8")
    return np.ascontiguousarray(turned)
