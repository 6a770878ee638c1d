"""Reads PyTorch `.pth` state dicts into numpy arrays, with numpy and the standard library only.

Torch is not a dependency: `read_state_dict(path)` understands the two formats `torch.save`
writes, and refuses anything else with an error naming the file.

- Legacy (`torch.save(..., _use_new_zipfile_serialization=False)`, and every file saved by
  torch < 1.6): five pickles back to back (the magic number 0x1950a86a20f9469cfc6c, the
  protocol version 1001, a dict of system information with the byte order, the object itself
  whose tensors point to storages by key, then the list of storage keys), followed by each
  storage in the order of that list as an int64 little-endian element count and the raw
  elements.
- Zip (torch >= 1.6 default): `<archive>/data.pkl` (the object), `<archive>/data/<key>` (the
  raw elements of each storage), `<archive>/byteorder` (absent in old files: little).

Safety: the object pickle is read by an unpickler whose `find_class` only knows an allow-list
(`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and its relatives, the storage
classes, torch dtypes), each mapped to a numpy stand-in. A pickle naming any other global is
refused before anything runs, so a malicious file cannot execute code (the same rule as
`torch.load(weights_only=True)`). Reading is bounded: each storage is read as large as the
pickle declares it, from a zip member that must hold exactly that many bytes (checked before
it is inflated, and the read itself stops there), and at most `MAX_INFLATION` times the
file's size is read out of it in all, storages and tensors together (`wsol_tf.array_files`):
a small file whose member inflates to gigabytes, or whose tensors view one storage many
times over, is refused unread.
"""

import collections
import io
import math
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np

from wsol_tf.array_files import ReadBudget

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch storage classes (legacy typed storages, as pickled by every torch version) -> numpy
# dtype name; "bfloat16" has no numpy dtype and is widened to float32 on read.
STORAGE_DTYPES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "UntypedStorage": "uint8",
}
# torch dtypes as globals (`torch.float32`, ...), which _rebuild_tensor_v3 passes.
TORCH_DTYPES = {
    "float32": "float32",
    "float": "float32",
    "float64": "float64",
    "double": "float64",
    "float16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "int64": "int64",
    "long": "int64",
    "int32": "int32",
    "int": "int32",
    "int16": "int16",
    "short": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
}
_ITEMSIZE = {"bfloat16": 2, "bool": 1}


class TorchWeightsError(ValueError):
    """A `.pth` file that cannot be read (format, truncation, unsafe or unknown content)."""


class _StorageType:
    """Stands for a torch storage class or dtype inside the pickle."""

    def __init__(self, dtype):
        self.dtype = dtype

    @property
    def itemsize(self):
        return _ITEMSIZE.get(self.dtype) or np.dtype(self.dtype).itemsize


class _Storage:
    """A storage referenced by a tensor: filled with its numpy elements after unpickling."""

    def __init__(self, key, storage_type, numel):
        self.key = key
        self.type = storage_type
        self.numel = numel
        self.array = None


class _Tensor:
    """A tensor as the pickle describes it; becomes a numpy array once storages are read."""

    def __init__(self, storage, offset, size, stride, dtype=None):
        self.storage = storage
        self.offset = int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)
        self.dtype = dtype


def _rebuild_tensor(storage, storage_offset, size, stride, *_):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor's storage is not a storage reference")
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, hooks, dtype, *_):
    tensor = _rebuild_tensor(storage, storage_offset, size, stride)
    tensor.dtype = dtype.dtype if isinstance(dtype, _StorageType) else None
    return tensor


def _rebuild_parameter(data, *_):
    return data  # nn.Parameter(data, requires_grad, hooks[, state]): the data is the weight


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals; storages come back as `_Storage` references."""

    def __init__(self, file):
        super().__init__(file)
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        if module == "torch" and name in TORCH_DTYPES:
            return _StorageType(TORCH_DTYPES[name])
        raise pickle.UnpicklingError(
            f"refusing global {module}.{name}: not in the allow-list of a state dict "
            "(OrderedDict, torch._utils._rebuild_tensor*, torch storage classes and dtypes)"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r:.80}")
        # Legacy: (storage, type, key, location, numel, view_metadata); zip: the first five.
        if len(pid) not in (5, 6):
            raise pickle.UnpicklingError(f"unexpected storage record {pid!r:.80}")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"storage of unknown type {storage_type!r:.60}")
        if len(pid) == 6 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views (torch < 1.0 files) are not supported")
        if not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"storage {key!r:.40} of {numel!r:.40} elements")
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type, int(numel))
        return self.storages[key]


def _error(path, message):
    return TorchWeightsError(f"{path}: {message}")


def _elements(raw, dtype, numel, byteorder):
    """Numpy array of `numel` elements of `dtype` from bytes `raw`."""
    if dtype == "bfloat16":
        bits = np.frombuffer(raw, dtype=f"{byteorder}u2", count=numel).astype(np.uint32)
        return (bits << 16).view(np.float32)
    if dtype in ("bool", "uint8", "int8"):
        return np.frombuffer(raw, dtype=dtype, count=numel).copy()
    array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder(byteorder), count=numel)
    return array.astype(np.dtype(dtype).newbyteorder("="))


def _unpickle(stream, path):
    """(object, {key: _Storage}) of the object pickle at `stream`'s position."""
    unpickler = _RestrictedUnpickler(stream)
    try:
        obj = unpickler.load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError) as e:
        raise _error(path, f"not a readable torch state dict ({e})") from None
    except AttributeError as e:  # e.g. BUILD on an object that takes no state
        raise _error(path, f"not a readable torch state dict ({e})") from None
    return obj, unpickler.storages


def _materialize(obj, path, budget, read=True):
    """Replaces every `_Tensor` inside dicts, lists and tuples by its numpy array (`read`
    False: only checks each tensor against its storage and the budget)."""
    if isinstance(obj, _Tensor):
        return _tensor_array(obj, path, budget, read)
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        for key, value in obj.items():
            out[key] = _materialize(value, path, budget, read)
        return out
    if isinstance(obj, list | tuple):
        return type(obj)(_materialize(v, path, budget, read) for v in obj)
    return obj


def _tensor_array(tensor, path, budget, read=True):
    storage = tensor.storage
    array = storage.array
    if array is None and read:
        raise _error(path, f"storage {storage.key} was never read")
    if tensor.dtype is not None and tensor.dtype != storage.type.dtype:
        raise _error(path, f"tensor of {tensor.dtype} on a {storage.type.dtype} storage")
    if any(s < 0 for s in tensor.size) or any(s < 0 for s in tensor.stride):
        raise _error(path, f"negative size or stride {tensor.size} / {tensor.stride}")
    if len(tensor.size) != len(tensor.stride):
        raise _error(path, f"size {tensor.size} and stride {tensor.stride} differ in length")
    # Each tensor is a copy: many views of one storage (or a stride of 0) would make a small
    # file a large read, so they count against the file's budget.
    itemsize = 4 if storage.type.dtype == "bfloat16" else storage.type.itemsize  # as read
    budget.take(math.prod(tensor.size) * itemsize, f"a tensor of size {tensor.size}")
    if 0 in tensor.size:
        return np.zeros(tensor.size, array.dtype) if read else None
    last = tensor.offset + sum((n - 1) * s for n, s in zip(tensor.size, tensor.stride, strict=True))
    if tensor.offset < 0 or last >= storage.numel:
        raise _error(
            path,
            f"a tensor of size {tensor.size} (offset {tensor.offset}, stride {tensor.stride}) "
            f"reaches past its storage {storage.key} of {storage.numel} elements",
        )
    if not read:
        return None
    view = np.lib.stride_tricks.as_strided(
        array[tensor.offset :],
        shape=tensor.size,
        strides=tuple(s * array.itemsize for s in tensor.stride),
        writeable=False,
    )
    return np.array(view, order="C")  # a compact copy, independent of the storage


def _read_legacy(data, path, budget):
    stream = io.BytesIO(data)

    def load_plain():
        # The header pickles hold only ints, bools, strings and dicts: no global allowed.
        unpickler = _RestrictedUnpickler(stream)
        unpickler.find_class = _no_globals
        try:
            return unpickler.load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as e:
            raise _error(path, f"not a torch .pth file ({e})") from None

    magic = load_plain()
    if magic != LEGACY_MAGIC:
        raise _error(path, "not a torch .pth file (wrong magic number)")
    protocol = load_plain()
    if protocol != LEGACY_PROTOCOL:
        raise _error(path, f"unsupported torch legacy protocol version {protocol!r}")
    sys_info = load_plain()
    if not isinstance(sys_info, dict):
        raise _error(path, "not a torch .pth file (no system information record)")
    byteorder = "<" if sys_info.get("little_endian", True) else ">"
    obj, storages = _unpickle(stream, path)
    keys = load_plain()
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise _error(path, "not a torch .pth file (no list of storage keys)")
    for key in keys:
        if key not in storages:
            raise _error(path, f"storage {key} is listed but no tensor uses it")
        storage = storages[key]
        header = stream.read(8)
        if len(header) < 8:
            raise _error(path, f"truncated: storage {key}'s size is missing")
        (numel,) = struct.unpack(f"{byteorder}q", header)
        if numel != storage.numel:
            raise _error(
                path, f"storage {key} has {numel} elements, the pickle says {storage.numel}"
            )
        nbytes = numel * storage.type.itemsize
        raw = stream.read(nbytes)
        if len(raw) < nbytes:
            raise _error(path, f"truncated: storage {key} needs {nbytes} bytes, {len(raw)} remain")
        budget.take(nbytes, f"storage {key}")
        storage.array = _elements(raw, storage.type.dtype, numel, byteorder)
    return obj


def _no_globals(module, name):
    raise pickle.UnpicklingError(f"unexpected global {module}.{name} in a header record")


def _check_member_size(archive, member, nbytes, path):
    """Refuses zip `member` unread when the archive declares a size other than `nbytes`."""
    declared = archive.getinfo(member).file_size
    if declared != nbytes:
        what = "truncated: " if declared < nbytes else ""
        raise _error(path, f"{what}{member} holds {declared} bytes where {nbytes} are declared")


def _read_member(archive, member, nbytes, path):
    """The `nbytes` bytes of zip `member`: refused unread when the archive declares another
    size, and never inflated past `nbytes` (a declared size may lie)."""
    _check_member_size(archive, member, nbytes, path)
    with archive.open(member) as stream:
        raw = stream.read(nbytes + 1)
    if len(raw) != nbytes:
        raise _error(path, f"{member} holds {len(raw)} bytes where {nbytes} are declared")
    return raw


def _read_zip(path, budget, read=True):
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise _error(path, f"damaged zip archive ({e})") from None
    with archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise _error(path, "a zip file, but not a torch .pth archive (no <archive>/data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = "<"
        try:
            if prefix + "byteorder" in names:
                with archive.open(prefix + "byteorder") as stream:
                    order = stream.read(16).decode("ascii", "replace").strip()  # "little"
                if order not in ("little", "big"):
                    raise _error(path, f"unknown byte order {order[:16]!r}")
                byteorder = "<" if order == "little" else ">"
            pickle_bytes = archive.getinfo(pickles[0]).file_size
            budget.take(pickle_bytes, pickles[0])
            raw_pickle = _read_member(archive, pickles[0], pickle_bytes, path)
            obj, storages = _unpickle(io.BytesIO(raw_pickle), path)
            for key, storage in storages.items():
                member = f"{prefix}data/{key}"
                if member not in names:
                    raise _error(path, f"storage {key} is missing from the archive ({member})")
                nbytes = storage.numel * storage.type.itemsize
                budget.take(nbytes, f"storage {key}")
                if not read:
                    _check_member_size(archive, member, nbytes, path)
                    continue
                raw = _read_member(archive, member, nbytes, path)
                storage.array = _elements(raw, storage.type.dtype, storage.numel, byteorder)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise _error(path, f"damaged zip archive ({e})") from None
    return obj


def read_state_dict(path):
    """Reads a torch `.pth` file (legacy or zip format) into numpy arrays.

    Args:
        path: the `.pth` file.

    Returns:
        The saved object with every tensor replaced by a numpy array (C-contiguous, native
        byte order; bfloat16 widened to float32): for a state dict, an OrderedDict from
        parameter names to arrays. Non-tensor values (ints, strings, ...) are kept.

    Raises:
        FileNotFoundError: no such file.
        TorchWeightsError: not a torch file, truncated, a storage of unknown type, a
            pickle naming a global outside the allow-list, a storage member whose size is not
            the pickle's, or more to read than the file can hold (module doc); the message
            names the file.
    """
    return _load(os.fspath(path), read=True)


def check_state_dict_file(path):
    """Raises what `read_state_dict` would for the file's format, pickle, storage sizes and
    read budget, reading no storage of a zip file (its pickle and directory only): a damaged
    file or a decompression bomb is named before any model is built."""
    _load(os.fspath(path), read=False)


def _load(path, read):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such torch weights file")
    budget = ReadBudget(path, error=TorchWeightsError)
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK\x03\x04"):
        obj = _read_zip(path, budget, read)
    else:
        with open(path, "rb") as f:
            data = f.read()
        if not data:
            raise _error(path, "empty file")
        if data[:1] != b"\x80":
            raise _error(path, "not a torch .pth file (neither a zip archive nor a pickle)")
        obj = _read_legacy(data, path, budget)
    return _materialize(obj, path, budget, read)


def read_tensors(path):
    """Like `read_state_dict`, but checks the result is a flat {name: array} dict."""
    obj = read_state_dict(path)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]  # a training checkpoint that wraps its state dict
    if not isinstance(obj, dict):
        raise _error(os.fspath(path), f"holds a {type(obj).__name__}, not a state dict")
    arrays = {k: v for k, v in obj.items() if isinstance(v, np.ndarray)}
    if not arrays:
        raise _error(os.fspath(path), "holds no tensors")
    return arrays
