"""Reading `.npy` and `.npz` files that come from users, without trusting them.

`np.load` on such a file reads what the file declares before checking it: an `.npz` member
whose header declares a huge array, or whose DEFLATE stream inflates to gigabytes, is
allocated or inflated first; and its errors name no file and suggest `allow_pickle`. These
readers (score maps: `read_npy`; Tensorpack checkpoints: `NpzArchive`):

- read each array's `.npy` header first, and refuse, naming the file (and member), a header
  that does not parse, an array of Python objects (never unpickled), or a declared size that
  differs from the bytes the file or member holds; all before any data is read;
- inflate at most `MAX_INFLATION` times the file's size (plus `SLACK_BYTES`) out of one file
  (`ReadBudget`, which the torch `.pth` reader shares): weights and score maps are floats,
  which hardly compress, so a file declaring more is a decompression bomb, refused unread;
- read only the arrays asked for, each exactly as large as its header says.

Errors are `ArrayFileError` (a ValueError): one line naming the file, for `wsol_tf.cli`.
"""

import math
import os
import zipfile
import zlib

import numpy as np

MAX_INFLATION = 32
SLACK_BYTES = 1 << 20
_CHUNK_BYTES = 1 << 24  # the most read at once: peak memory is the array, not twice it
# What a damaged or unusual zip member raises while it is read (RuntimeError: encrypted).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
               RuntimeError)  # fmt: skip


class ArrayFileError(ValueError):
    """A `.npy` / `.npz` file that cannot be read safely; the message names the file."""


class ReadBudget:
    """The bytes that may still be inflated out of one file: `MAX_INFLATION` times its size
    plus `SLACK_BYTES`, taken before each read so that a bomb is refused unread."""

    def __init__(self, path, error=ArrayFileError):
        self.path = path
        self.error = error
        self.file_bytes = os.path.getsize(path)
        self.limit = MAX_INFLATION * self.file_bytes + SLACK_BYTES
        self.left = self.limit

    def take(self, nbytes, what):
        """Counts `nbytes` of `what` as read; raises `error` naming the file when too many."""
        if nbytes > self.left:
            total = self.limit - self.left + nbytes
            raise self.error(
                f"{self.path}: {what} would bring the bytes read out of this "
                f"{self.file_bytes}-byte file to {total}, more than {MAX_INFLATION} times its "
                "size: refused unread (a decompression bomb, or a damaged file)."
            )
        self.left -= nbytes


def _header(stream, where):
    """(shape, fortran_order, dtype, header bytes) of the `.npy` array at `stream`'s start."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):  # 3.0 differs only in its header's text encoding
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unknown .npy format version {version[0]}.{version[1]}")
    except (ValueError, EOFError, SyntaxError) as error:
        raise ArrayFileError(f"{where}: not a readable .npy array ({error})") from None
    except _ZIP_ERRORS as error:
        raise ArrayFileError(f"{where}: damaged ({error})") from None
    if dtype.hasobject:
        raise ArrayFileError(
            f"{where}: holds Python objects (dtype {dtype}), which are never read from a "
            "file (a pickle could run code): only numeric arrays are."
        )
    return shape, fortran_order, dtype, stream.tell()


def _check_size(shape, dtype, stored, where):
    """The data bytes `shape` and `dtype` declare; refuses when `stored` bytes differ."""
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != stored:
        raise ArrayFileError(
            f"{where}: its header declares an array of shape {shape} and dtype {dtype} "
            f"({nbytes} bytes), but it holds {stored} bytes of data."
        )
    return nbytes


def _read_data(stream, shape, fortran_order, dtype, where):
    """The array of `shape` from `stream`, read in chunks straight into place."""
    flat = np.empty(math.prod(shape), dtype)
    raw = flat.view(np.uint8) if flat.nbytes else np.empty(0, np.uint8)
    done = 0
    try:
        while done < raw.size:
            chunk = stream.read(min(_CHUNK_BYTES, raw.size - done))
            if not chunk:
                raise ArrayFileError(f"{where}: truncated ({done} of {raw.size} bytes).")
            raw[done : done + len(chunk)] = np.frombuffer(chunk, np.uint8)
            done += len(chunk)
    except _ZIP_ERRORS as error:
        raise ArrayFileError(f"{where}: damaged ({error})") from None
    return flat.reshape(shape, order="F" if fortran_order else "C")


def read_npy(path):
    """The array of a `.npy` file (allow_pickle=False, and bounded: module doc).

    Raises:
        ArrayFileError naming the file: not a .npy array (empty, a pickle, ...), objects, a
        size the file does not hold. OSError: the file cannot be opened.
    """
    with open(path, "rb") as stream:
        kind = _kind(stream.read(6))
        if kind != "npy":
            note = _KIND_NOTES.get(kind, "no .npy header")
            raise ArrayFileError(f"{path}: not a readable .npy array ({note})")
        stream.seek(0)
        shape, fortran_order, dtype, header_bytes = _header(stream, path)
        _check_size(shape, dtype, os.path.getsize(path) - header_bytes, path)
        return _read_data(stream, shape, fortran_order, dtype, path)


_KIND_NOTES = {
    "empty": "empty file",
    "npy": "it is one .npy array",
    "pickle": "it holds a pickle, which is never read: it could run code",
}


def _kind(head):
    """What a file is from its first bytes: npy, pickle, zip, empty or other."""
    if not head:
        return "empty"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"\x80"):
        return "pickle"
    return "zip" if head.startswith(b"PK") else "other"


class NpzArchive:
    """An `.npz` file (a zip of `.npy` members), read member by member; a context manager.

    Attributes:
        path: the file.
        names: the array names (member names without `.npy`), in the archive's order.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as error:
            with open(self.path, "rb") as f:
                kind = _kind(f.read(6))
            note = f"a damaged zip ({error})" if kind == "zip" else _KIND_NOTES.get(kind, "")
            raise ArrayFileError(
                f"{self.path}: not an .npz archive (a zip of .npy arrays)"
                + (f": {note}." if note else ".")
            ) from None
        self._members = {
            info.filename[: -len(".npy")]: info
            for info in self._zip.infolist()
            if info.filename.endswith(".npy")
        }
        self.names = list(self._members)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zip.close()

    def _open(self, name):
        try:
            return self._zip.open(self._members[name])
        except _ZIP_ERRORS as error:
            raise ArrayFileError(f"{self.path}: member {name}.npy is damaged ({error})") from None

    def check(self, names=None):
        """Refuses what `read(names)` would (every array when `names` is None) from the
        headers alone: no data is read."""
        self._checked(self.names if names is None else list(dict.fromkeys(names)))

    def read(self, names):
        """{name: array} of the arrays `names` (of `self.names`), read only once every header
        is checked and their total size is within the file's `ReadBudget`."""
        names = list(dict.fromkeys(names))
        self._checked(names)
        arrays = {}
        for name in names:
            where = f"{self.path}: member {name}.npy"
            with self._open(name) as stream:
                shape, fortran_order, dtype, _ = _header(stream, where)
                arrays[name] = _read_data(stream, shape, fortran_order, dtype, where)
        return arrays

    def _checked(self, names):
        budget = ReadBudget(self.path)
        for name in names:
            where = f"{self.path}: member {name}.npy"
            with self._open(name) as stream:
                shape, _, dtype, header_bytes = _header(stream, where)
            stored = self._members[name].file_size - header_bytes
            budget.take(_check_size(shape, dtype, stored, where), f"array {name!r}")
