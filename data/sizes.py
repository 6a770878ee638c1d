"""Sizes without TensorFlow: input sizes as (h, w), and an image file's size from its header.

`image_size_hw` reads the few bytes of a JPEG, PNG, GIF, BMP or WebP header that hold the size
(the decoded image's: a GIF's first frame, not its logical screen), so
annotation loaders can clip boxes to the image (as wsolevaluation's metadata does) without
decoding anything; about 20 us per file.
"""

import struct


def as_hw(size):
    """An int or (h, w) pair as an (h, w) tuple of ints."""
    if isinstance(size, int):
        return (size, size)
    h, w = size
    return (int(h), int(w))


def default_resize_size(image_size, ratio=256 / 224):
    """Tensorpack resizes to 256 before cropping 224; keep that ratio at other sizes."""
    h, w = as_hw(image_size)
    return (int(round(h * ratio)), int(round(w * ratio)))


# JPEG start-of-frame markers (baseline, progressive, lossless, ...): not DHT/JPG/DAC.
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(f):
    f.seek(2)
    while True:
        byte = f.read(1)
        while byte and byte != b"\xff":  # skip to the next marker
            byte = f.read(1)
        while byte == b"\xff":  # fill bytes
            byte = f.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # markers without a length
        if marker == 0xD9:
            return None
        length = f.read(2)
        if len(length) < 2:
            return None
        (length,) = struct.unpack(">H", length)
        if length < 2:  # a length counts its own two bytes: anything less is damage
            return None
        if marker in _SOF_MARKERS:
            data = f.read(5)
            if len(data) < 5:
                return None
            height, width = struct.unpack(">HH", data[1:5])
            return height, width
        f.seek(length - 2, 1)


def gif_first_frame(f):
    """(top, left, height, width) of a GIF's first image from its image descriptor, read from
    the binary file object `f`; None for a stream that is not a GIF or ends (or is damaged)
    before that descriptor. TensorFlow decodes this frame alone, at this size, not the GIF's
    logical screen."""
    f.seek(0)
    head = f.read(13)
    if len(head) < 13 or head[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    flags = head[10]  # bit 7: a global colour table of 2^(bits 0-2 + 1) colours follows
    f.seek(13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0))
    while True:
        block = f.read(1)
        if block == b"\x2c":  # image descriptor: left, top, width, height
            descriptor = f.read(8)
            if len(descriptor) < 8:
                return None
            left, top, width, height = struct.unpack("<HHHH", descriptor)
            return top, left, height, width
        if block != b"\x21":  # neither an extension nor an image: the trailer, or damage
            return None
        f.read(1)  # the extension's label
        while True:  # its data sub-blocks, up to one of length 0
            length = f.read(1)
            if not length:
                return None
            if length[0] == 0:
                break
            f.seek(length[0], 1)


def _webp_size(head):
    """(H, W) from the first 30 bytes of a RIFF/WEBP file: the canvas of an extended file
    (VP8X, 24-bit sizes minus one), a lossless frame (VP8L, 14-bit sizes minus one) or a lossy
    key frame (VP8, 14-bit sizes after the 9d 01 2a start code)."""
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return height, width
    if chunk == b"VP8L" and head[20] == 0x2F:
        (bits,) = struct.unpack("<I", head[21:25])
        return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return height & 0x3FFF, width & 0x3FFF
    return None


def image_size_hw(path):
    """(H, W) of an image file from its header, or None when the header cannot be read.

    The size is the one `wsol_tf.data.decode` gives: a GIF's first frame, a WebP's canvas.

    None means "not known here" (an unknown format, a truncated or corrupt header, even one
    cut inside the size field): callers keep their data unchanged and the decoder reports
    the file later, by name. Never raises for a file's content.
    """
    try:
        with open(path, "rb") as f:
            return stream_size_hw(f)
    except OSError:
        return None


def stream_size_hw(f):
    """`image_size_hw` of an open binary file object (e.g. `io.BytesIO` of encoded bytes)."""
    head = f.read(30)
    if head[:2] == b"\xff\xd8":
        size = _jpeg_size(f)
    elif head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        size = (height, width)
    elif head[:6] in (b"GIF87a", b"GIF89a"):
        frame = gif_first_frame(f)
        size = frame[2:] if frame is not None else None
    elif head[:2] == b"BM" and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        size = (abs(height), width)
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        size = _webp_size(head)
    else:
        size = None
    if size is None or min(size) <= 0:
        return None
    return int(size[0]), int(size[1])
