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
`sizes.image_size_hw`. An animated WebP without alpha is an error (TensorFlow
decodes animations only as RGBA): skipped and named like any unreadable file. A header
claiming more than `MAX_PIXELS` pixels is refused before decoding.
"""

import io
import logging
import os
import threading

import tensorflow as tf

from wsol_tf.data.sizes import gif_first_frame, stream_size_hw
from wsol_tf.errors import error_text

logger = logging.getLogger("wsol_tf.data")


def _le_uint(data, offset, size):
    """The little-endian integer of `size` (2: unsigned, 4: signed) bytes at `offset`, int32."""
    dtype = tf.uint16 if size == 2 else tf.int32
    raw = tf.io.decode_raw(tf.strings.substr(data, offset, size), dtype, little_endian=True)
    return tf.cast(raw[0], tf.int32)


def _is_palette_bmp(data):
    """True for a colour-table BMP: "BM", a 40+ byte info header, 1, 4 or 8 bits per pixel."""
    head = tf.strings.substr(tf.strings.join([data, tf.constant(b"\0" * 54)]), 0, 54)
    bits = _le_uint(head, 28, 2)
    table_bits = tf.reduce_any(tf.equal(bits, [1, 4, 8]))
    return tf.logical_and(
        tf.equal(tf.strings.substr(head, 0, 2), b"BM"),
        tf.logical_and(_le_uint(head, 14, 4) >= 40, table_bits),
    )


def _packed_bmp_indices(data, bits):
    """(H, W) int32 colour-table indices of a 1- or 4-bit BMP, which TensorFlow's decoder
    refuses with a riddle ("channels ... must be 1, 3 or 4, was 0"): rows of `bits`-bit
    indices, most significant first, padded to 4 bytes, bottom-up unless the height is
    negative. A compressed (RLE4), empty or truncated one is an error (skipped and named)."""
    width, height = _le_uint(data, 18, 4), _le_uint(data, 22, 4)
    rows = tf.abs(height)
    stride = (width * bits + 31) // 32 * 4
    start = _le_uint(data, 10, 4)
    check = tf.debugging.Assert(
        tf.reduce_all(
            [
                tf.equal(_le_uint(data, 30, 4), 0),
                tf.minimum(width, rows) > 0,
                start + stride * rows <= tf.strings.length(data),
            ]
        ),
        [f"a {bits}-bit BMP that is compressed, empty or truncated"],
    )
    with tf.control_dependencies([check]):
        raw = tf.io.decode_raw(tf.strings.substr(data, start, stride * rows), tf.uint8)
    packed = tf.cast(tf.reshape(raw, [rows, stride]), tf.int32)
    shifts = tf.range(8 - bits, -1, -bits)  # most significant first
    values = tf.bitwise.bitwise_and(tf.bitwise.right_shift(packed[..., None], shifts), 2**bits - 1)
    indices = tf.reshape(values, [rows, stride * 8 // bits])[:, :width]
    return tf.cond(height > 0, lambda: tf.reverse(indices, [0]), lambda: indices)


def _decode_palette_bmp(data):
    """A 1-, 4- or 8-bit BMP through its colour table. TensorFlow's BMP decoder returns 8-bit
    table indices as grey levels (right only for a grey ramp table), so a colour-table image
    would come out as a silently wrong grey picture; the indices are looked up here instead
    (and 1- and 4-bit ones, which it refuses, unpacked here). An index past the table is an
    error (a corrupt file: skipped and named like any other)."""
    bits = _le_uint(data, 28, 2)
    indices = tf.case(
        [
            (tf.equal(bits, 1), lambda: _packed_bmp_indices(data, 1)),
            (tf.equal(bits, 4), lambda: _packed_bmp_indices(data, 4)),
        ],
        default=lambda: tf.cast(tf.io.decode_bmp(data, channels=0)[..., 0], tf.int32),
    )  # (H, W)
    info_size = _le_uint(data, 14, 4)
    used = _le_uint(data, 46, 4)
    count = tf.where(tf.equal(used, 0), tf.bitwise.left_shift(1, bits), used)
    table = tf.io.decode_raw(tf.strings.substr(data, 14 + info_size, 4 * count), tf.uint8)
    rgb = tf.reverse(tf.reshape(table, [-1, 4])[:, :3], axis=[1])  # stored as B, G, R, 0
    return tf.gather(rgb, indices)


def _is_webp_with_alpha(data):
    """True for a WebP whose header says it has alpha: an extended file (VP8X) with the alpha
    flag, or a lossless one (VP8L) with its alpha-is-used bit. TensorFlow's WebP decoder refuses
    a channel count other than the file's (3 for one with alpha is an error), and with
    channels=0 it corrupts the heap on an animated file (the process aborts), so the count is
    read here."""
    head = tf.strings.substr(tf.strings.join([data, tf.constant(b"\0" * 25)]), 0, 25)
    is_webp = tf.logical_and(
        tf.equal(tf.strings.substr(head, 0, 4), b"RIFF"),
        tf.equal(tf.strings.substr(head, 8, 4), b"WEBP"),
    )
    chunk = tf.strings.substr(head, 12, 4)
    flag_byte = tf.where(tf.equal(chunk, b"VP8X"), 20, 24)  # VP8L: bit 28 of bytes 21-24
    flags = tf.io.decode_raw(tf.strings.substr(head, flag_byte, 1), tf.uint8)[0]
    alpha = tf.not_equal(tf.bitwise.bitwise_and(flags, 0x10), 0)
    vp8x_or_vp8l = tf.logical_or(tf.equal(chunk, b"VP8X"), tf.equal(chunk, b"VP8L"))
    return tf.logical_and(is_webp, tf.logical_and(vp8x_or_vp8l, alpha))


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
    if data[:2] == b"BM" and len(data) >= 30 and int.from_bytes(data[14:18], "little") >= 40:
        bits = int.from_bytes(data[28:30], "little")  # in a 40+ byte info header
        if bits not in (1, 4, 8, 24, 32):  # TensorFlow's 24/32 and our colour-table decoders
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


def _header_check(data):
    """An op failing with `header_problem`'s reason (a Python call per image: ~20 us)."""

    def problem(encoded):
        encoded = getattr(encoded, "item", lambda: encoded)()  # numpy_function: a 0-d array
        return (header_problem(encoded) or "").encode()

    reason = tf.numpy_function(problem, [data], tf.string, stateful=False)
    reason.set_shape(())
    return tf.debugging.Assert(tf.equal(reason, b""), [reason])


def decode_uint8(data):
    """Encoded bytes (JPEG, PNG, GIF, BMP, WebP; gray, RGB, RGBA or CMYK) -> (H, W, 3) uint8 RGB.

    JPEGs use the accurate integer IDCT (libjpeg's ISLOW, as PIL and OpenCV), not
    TensorFlow's default INTEGER_FAST, whose pixels differ by up to ~4 levels. 1-, 4- and 8-bit
    BMPs go through their colour table (`_decode_palette_bmp`); a WebP with alpha is decoded as
    RGBA (its first frame when animated) and the alpha dropped (`_is_webp_with_alpha`).
    """

    def other():
        return tf.cond(
            _is_webp_with_alpha(data),
            lambda: tf.io.decode_webp(data, channels=4)[0, :, :, :3],
            lambda: tf.io.decode_image(data, channels=3, expand_animations=False, dtype=tf.uint8),
        )

    with tf.control_dependencies([_header_check(data)]):
        image = tf.cond(
            tf.io.is_jpeg(data),
            lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
            lambda: tf.cond(_is_palette_bmp(data), lambda: _decode_palette_bmp(data), other),
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
