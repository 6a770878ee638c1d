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
`torch.load(weights_only=True)`).
"""

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

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


def _materialize(obj, path):
    """Replaces every `_Tensor` inside dicts, lists and tuples by its numpy array."""
    if isinstance(obj, _Tensor):
        return _tensor_array(obj, path)
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        for key, value in obj.items():
            out[key] = _materialize(value, path)
        return out
    if isinstance(obj, list | tuple):
        return type(obj)(_materialize(v, path) for v in obj)
    return obj


def _tensor_array(tensor, path):
    storage = tensor.storage
    array = storage.array
    if array is None:
        raise _error(path, f"storage {storage.key} was never read")
    if tensor.dtype is not None and tensor.dtype != storage.type.dtype:
        raise _error(path, f"tensor of {tensor.dtype} on a {storage.type.dtype} storage")
    if any(s < 0 for s in tensor.size) or any(s < 0 for s in tensor.stride):
        raise _error(path, f"negative size or stride {tensor.size} / {tensor.stride}")
    if len(tensor.size) != len(tensor.stride):
        raise _error(path, f"size {tensor.size} and stride {tensor.stride} differ in length")
    if 0 in tensor.size:
        return np.zeros(tensor.size, array.dtype)
    last = tensor.offset + sum((n - 1) * s for n, s in zip(tensor.size, tensor.stride, strict=True))
    if tensor.offset < 0 or last >= array.size:
        raise _error(
            path,
            f"a tensor of size {tensor.size} (offset {tensor.offset}, stride {tensor.stride}) "
            f"reaches past its storage {storage.key} of {array.size} elements",
        )
    view = np.lib.stride_tricks.as_strided(
        array[tensor.offset :],
        shape=tensor.size,
        strides=tuple(s * array.itemsize for s in tensor.stride),
        writeable=False,
    )
    return np.array(view, order="C")  # a compact copy, independent of the storage


def _read_legacy(data, path):
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
        storage.array = _elements(raw, storage.type.dtype, numel, byteorder)
    return obj


def _no_globals(module, name):
    raise pickle.UnpicklingError(f"unexpected global {module}.{name} in a header record")


def _read_zip(path):
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
        if prefix + "byteorder" in names:
            order = archive.read(prefix + "byteorder").decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise _error(path, f"unknown byte order {order!r}")
            byteorder = "<" if order == "little" else ">"
        try:
            obj, storages = _unpickle(io.BytesIO(archive.read(pickles[0])), path)
            for key, storage in storages.items():
                member = f"{prefix}data/{key}"
                if member not in names:
                    raise _error(path, f"storage {key} is missing from the archive ({member})")
                raw = archive.read(member)
                nbytes = storage.numel * storage.type.itemsize
                if len(raw) < nbytes:
                    raise _error(
                        path, f"truncated: storage {key} needs {nbytes} bytes, has {len(raw)}"
                    )
                storage.array = _elements(raw, storage.type.dtype, storage.numel, byteorder)
        except (zipfile.BadZipFile, EOFError, OSError) as e:
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
        TorchWeightsError: not a torch file, truncated, a storage of unknown type, or a
            pickle naming a global outside the allow-list; the message names the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such torch weights file")
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK\x03\x04"):
        obj = _read_zip(path)
    else:
        with open(path, "rb") as f:
            data = f.read()
        if not data:
            raise _error(path, "empty file")
        if data[:1] != b"\x80":
            raise _error(path, "not a torch .pth file (neither a zip archive nor a pickle)")
        obj = _read_legacy(data, path)
    return _materialize(obj, path)


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
