"""Image decoding that never stops a run on a bad file, and never hides one.

Design: each file is read and decoded inside a one-element tf.data pipeline
whose errors are dropped (`ignore_errors`); a fallback element flagged
`ok = False` follows it, and `take(1)` keeps whichever comes first. So a bad
file becomes a flagged element instead of an exception that would end the
epoch, at a cost of ~0.1 ms per image (measured: <5 % of decoding a 500x375
JPEG). The flagged elements are filtered out after a call (only for them) to
`SkipLog.record`, which re-decodes the file eagerly to learn why it failed,
logs a warning naming the file, and keeps the entry for the run's JSON
(`SkipLog.to_json()`). A file is counted once however many epochs see it.

`tf.io.decode_image` sniffs the format from the bytes, so PNG data in a
`.JPEG` file decodes; grayscale becomes RGB (channels=3); CMYK JPEGs are
converted to RGB by TensorFlow's JPEG decoder; 1-, 4- and 8-bit BMPs are looked up in their
colour table here, and WebPs with alpha are decoded as RGBA here. Alpha is dropped
(not composited), 16-bit PNGs are scaled to 8 bits, a GIF gives its first frame (its
own size, which may be smaller than the GIF's screen; one not at the screen's corner is
refused, `header_problem`), and EXIF orientation is
ignored: pixels are as stored, the frame of CUB/ImageNet boxes and of
`sizes.image_size_hw` (only `python -m wsol_tf.localize`, for users' photos, applies it:
`wsol_tf.data.exif`). An animated WebP without alpha is an error (TensorFlow
decodes animations only as RGBA): skipped and named like any unreadable file. A header
claiming more than `MAX_PIXELS` pixels is refused before decoding.
"""

import io
import logging
import os
import threading

import numpy as np
import tensorflow as tf

from wsol_tf.data.sizes import gif_first_frame, stream_size_hw
from wsol_tf.errors import error_text

logger = logging.getLogger("wsol_tf.data")


def _as_bytes(encoded):
    """The bytes `tf.numpy_function` passes as a 0-d object array (or bytes as they are)."""
    return getattr(encoded, "item", lambda: encoded)()


def _bmp_bits(data):
    """Bits per pixel of a BMP with a 40+ byte info header (where that field sits), or None."""
    if data[:2] == b"BM" and len(data) >= 30 and int.from_bytes(data[14:18], "little") >= 40:
        return int.from_bytes(data[28:30], "little")
    return None


def palette_bmp_rgb(data):
    """((H, W, 3) uint8 RGB, b"") of a 1-, 4- or 8-bit uncompressed BMP's bytes, looked up in
    its colour table; ((0, 0, 3), reason) for one that is compressed (RLE), empty, truncated
    or holds an index past its table.

    TensorFlow's BMP decoder gives 8-bit table indices as grey levels (right only for a grey
    ramp table: a colour-table image came out as a silently wrong grey picture) and refuses 1
    and 4 bits ("channels ... must be 1, 3 or 4, was 0"). Rows are `bits`-bit indices, most
    significant first, padded to 4 bytes, bottom-up unless the height is negative.
    """
    empty = np.zeros((0, 0, 3), np.uint8)

    def field(offset, size, signed=False):
        return int.from_bytes(data[offset : offset + size], "little", signed=signed)

    info_size, width, height = field(14, 4), field(18, 4, True), field(22, 4, True)
    bits, start, rows = field(28, 2), field(10, 4), abs(field(22, 4, True))
    stride = (width * bits + 31) // 32 * 4
    if field(30, 4) != 0 or min(width, rows) <= 0 or start + stride * rows > len(data):
        return empty, f"a {bits}-bit BMP that is compressed (RLE), empty or truncated".encode()
    packed = np.frombuffer(data, np.uint8, stride * rows, start).reshape(rows, stride)
    per_byte = 8 // bits
    shifts = np.arange(8 - bits, -1, -bits, dtype=np.uint8)  # most significant first
    values = (packed[:, :, None] >> shifts) & ((1 << bits) - 1)  # (rows, stride, per_byte)
    indices = values.reshape(rows, stride * per_byte)[:, :width]
    if height > 0:
        indices = indices[::-1]  # stored bottom-up
    count = field(46, 4) or 1 << bits
    table_at = 14 + info_size
    if table_at + 4 * count > len(data) or indices.max() >= count:
        return empty, f"a {bits}-bit BMP whose colour table is cut or too short".encode()
    table = np.frombuffer(data, np.uint8, 4 * count, table_at).reshape(count, 4)
    return np.ascontiguousarray(table[:, 2::-1][indices]), b""  # stored as B, G, R, 0


def _decode_palette_bmp(data):
    """`palette_bmp_rgb` as one op (a rare format: the graph stays small, as every pipeline
    traces it), failing with its reason."""

    def decode(encoded):
        return palette_bmp_rgb(_as_bytes(encoded))

    rgb, reason = tf.numpy_function(decode, [data], [tf.uint8, tf.string], stateful=False)
    check = tf.debugging.Assert(tf.equal(reason, b""), [reason])
    with tf.control_dependencies([check]):
        return tf.identity(rgb)


# How `decode_uint8` decodes a format: TensorFlow's JPEG decoder, the colour table here,
# TensorFlow's WebP decoder asked for RGBA, or `tf.io.decode_image`.
JPEG, PALETTE_BMP, WEBP_WITH_ALPHA, OTHER = range(4)


def decoder_of(data):
    """Which decoder `decode_uint8` uses for encoded bytes (JPEG, PALETTE_BMP, ...).

    PALETTE_BMP: "BM", a 40+ byte info header, 1, 4 or 8 bits per pixel (`palette_bmp_rgb`).
    WEBP_WITH_ALPHA: an extended WebP (VP8X) with the alpha flag, or a lossless one (VP8L)
    with its alpha-is-used bit (bit 28 of bytes 21-24). TensorFlow's WebP decoder refuses a
    channel count other than the file's (3 for one with alpha is an error), and with
    channels=0 it corrupts the heap on an animated file (the process aborts).
    """
    if data[:3] == b"\xff\xd8\xff":  # as tf.io.is_jpeg
        return JPEG
    if _bmp_bits(data) in (1, 4, 8):
        return PALETTE_BMP
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 25:
        flags = {b"VP8X": data[20], b"VP8L": data[24]}.get(data[12:16], 0)
        if flags & 0x10:
            return WEBP_WITH_ALPHA
    return OTHER


# Pillow's bound for a decompression bomb (its DecompressionBombError): a few kilobytes of
# PNG can claim 40000 x 40000 pixels, gigabytes once decoded (times the parallel reads).
MAX_PIXELS = 178_956_970


def header_problem(data):
    """Why encoded image bytes are refused before decoding (one line), or None.

    - A header claiming more than MAX_PIXELS pixels.
    - A BMP of a depth no decoder here reads (16 bits: RGB555/565), whose TensorFlow error
      otherwise reads "channels ... was 2".
    - A GIF whose first frame does not start at its screen's corner: TensorFlow takes the
      frame's size as the image's and still draws the frame at its offset, so it would come
      out shifted and cut (trained on silently).
    A header that cannot be read is no problem here: the decoder reports it.
    """
    size = stream_size_hw(io.BytesIO(data))
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        return (
            f"its header claims {size[1]}x{size[0]} pixels, more than {MAX_PIXELS} (Pillow's "
            "decompression-bomb bound): not decoded"
        )
    bits = _bmp_bits(data)
    if bits is not None and bits not in (1, 4, 8, 24, 32):  # TensorFlow's 24/32, our tables
        return (
            f"a {bits}-bit BMP, a depth neither TensorFlow nor this library decodes (1, 4, "
            "8, 24 and 32 are); save it as a 24-bit BMP or a PNG"
        )
    frame = gif_first_frame(io.BytesIO(data)) if data[:4] == b"GIF8" else None
    if frame is not None and frame[:2] != (0, 0):
        top, left, height, width = frame
        return (
            f"a GIF whose first frame ({width}x{height}) starts at x {left}, y {top}, not at "
            "the corner: TensorFlow would decode it shifted; save it as a single-frame image"
        )
    return None


def _inspect(data):
    """(decoder, check): `decoder_of` as an int32 tensor and an op failing with
    `header_problem`'s reason. One Python call per image instead of graph ops: every pipeline
    traces this graph, and each op and branch in it costs tracing time; the call costs about
    0.3 ms per image (bench/bench_decode.py, BENCHMARKS.md)."""

    def inspect(encoded):
        encoded = _as_bytes(encoded)
        reason = (header_problem(encoded) or "").encode()
        return np.int32(decoder_of(encoded)), reason

    decoder, reason = tf.numpy_function(inspect, [data], [tf.int32, tf.string], stateful=False)
    decoder.set_shape(())
    reason.set_shape(())
    return decoder, tf.debugging.Assert(tf.equal(reason, b""), [reason])


def decode_uint8(data):
    """Encoded bytes (JPEG, PNG, GIF, BMP, WebP; gray, RGB, RGBA or CMYK) -> (H, W, 3) uint8 RGB.

    JPEGs use the accurate integer IDCT (libjpeg's ISLOW, as PIL and OpenCV), not
    TensorFlow's default INTEGER_FAST, whose pixels differ by up to ~4 levels. 1-, 4- and 8-bit
    BMPs go through their colour table (`palette_bmp_rgb`); a WebP with alpha is decoded as
    RGBA (its first frame when animated) and the alpha dropped (`decoder_of`).
    """

    decoder, check = _inspect(data)
    with tf.control_dependencies([check]):
        image = tf.switch_case(
            decoder,
            [  # in the order of JPEG, PALETTE_BMP, WEBP_WITH_ALPHA, OTHER
                lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
                lambda: _decode_palette_bmp(data),
                lambda: tf.io.decode_webp(data, channels=4)[0, :, :, :3],
                lambda: tf.io.decode_image(
                    data, channels=3, expand_animations=False, dtype=tf.uint8
                ),
            ],
        )
    image.set_shape([None, None, 3])
    return image


def path_bytes(path):
    """A file path as TensorFlow is to get it: the file system's bytes (`os.fsencode`).

    A name that is not UTF-8 ("café.jpg" saved in Latin-1 by an old archiver) is listed by Python
    with surrogate escapes, which TensorFlow cannot convert to a tf.string: as a str such a
    file reads as unreadable (a list of them stops the pipeline), though it is a good image.
    Tensors and bytes are passed through.
    """
    return os.fsencode(path) if isinstance(path, str) else path


def decode_image(path):
    """Reads an image file as (H, W, 3) float32 RGB; raises on a bad file."""
    return tf.cast(decode_uint8(tf.io.read_file(path_bytes(path))), tf.float32)


def why_unreadable(path=None, data=None):
    """The error that reading/decoding gives (one line), or None when the image is fine."""
    try:
        if data is None:
            data = tf.io.read_file(path_bytes(path))
        decode_uint8(data)
    except (tf.errors.OpError, ValueError) as error:
        return error_text(error)
    return None


class SkipLog:
    """Thread-safe record of the images a pipeline skipped, keyed by file.

    Example:
        log = SkipLog()
        dataset = make_dataset(records, ..., skip_log=log)
        ...  # iterate
        json.dump(log.to_json(), f)  # {"num_skipped": 1, "skipped": [{"path": ..., ...}]}
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = {}

    def record(self, path, reason, index=None):
        """Adds one unreadable file (once); logs a warning the first time."""
        with self._lock:
            if path in self._entries:
                return
            self._entries[path] = {"path": path, "index": index, "reason": reason}
        logger.warning("skipped unreadable image %s: %s", path, reason)

    def __len__(self):
        with self._lock:
            return len(self._entries)

    def entries(self):
        with self._lock:
            return sorted(self._entries.values(), key=lambda e: e["path"])

    def to_json(self):
        entries = self.entries()
        return {"num_skipped": len(entries), "skipped": entries}


def _failed_like(element):
    return {**element, "image": tf.zeros((0, 0, 3), tf.uint8), "ok": tf.constant(False)}


def try_decode(element):
    """A one-element dataset: `element` + decoded "image" and ok=True, or ok=False on error.

    `element` holds "path" (the file is read) or "data" (encoded bytes).
    """

    def decode(e):
        data = e["data"] if "data" in e else tf.io.read_file(e["path"])
        return {**e, "image": decode_uint8(data), "ok": tf.constant(True)}

    one = tf.data.Dataset.from_tensors(element)
    return one.map(decode).ignore_errors().concatenate(one.map(_failed_like)).take(1)


def try_read(element):
    """Like `try_decode` for reading only: adds "data" (the file's bytes) and "ok"."""

    def read(e):
        return {**e, "data": tf.io.read_file(e["path"]), "ok": tf.constant(True)}

    def failed(e):
        return {**e, "data": tf.constant(b""), "ok": tf.constant(False)}

    one = tf.data.Dataset.from_tensors(element)
    return one.map(read).ignore_errors().concatenate(one.map(failed)).take(1)


def keep_readable(skip_log):
    """A filter predicate: True for ok elements; records the others in `skip_log`."""

    def record(path, index):
        path = os.fsdecode(path.numpy())  # the str the Records hold (`path_bytes`)
        skip_log.record(path, why_unreadable(path) or "unreadable", int(index.numpy()))
        return False

    def predicate(element):
        def report():
            kept = tf.py_function(record, [element["path"], element["index"]], tf.bool)
            kept.set_shape(())
            return kept

        return tf.cond(element["ok"], lambda: tf.constant(True), report)

    return predicate
