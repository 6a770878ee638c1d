"""Writes torch `.pth` files by hand (legacy and zip formats), without torch, for the tests,
and hostile ones: storages that disagree with their pickle, zip members that inflate to far
more than the file holds (`deflated_zeros`, `write_zip_members`).

The pickles name `torch._utils._rebuild_tensor_v2` and `torch.FloatStorage` etc. exactly as
`torch.save` does; while writing, stand-in `torch` modules are put into `sys.modules` (and
removed afterwards) so the standard pickler can name those globals.
"""

import collections
import contextlib
import io
import pickle
import struct
import sys
import types
import zipfile
import zlib

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_OF_DTYPE = {
    "float32": "FloatStorage",
    "float64": "DoubleStorage",
    "float16": "HalfStorage",
    "int64": "LongStorage",
    "int32": "IntStorage",
    "uint8": "ByteStorage",
    "bool": "BoolStorage",
}


@contextlib.contextmanager
def fake_torch():
    """Stand-in `torch` / `torch._utils` modules with the globals a state dict pickle names."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    for name in (*STORAGE_OF_DTYPE.values(), "ComplexFloatStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        yield torch
    finally:
        for key, module in saved.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module


class _StorageRef:
    def __init__(self, key, storage_class, numel):
        self.key, self.storage_class, self.numel = key, storage_class, numel


class _TensorStub:
    """Pickles as torch pickles a tensor: _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, rebuild, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())
        self.rebuild = rebuild

    def __reduce__(self):
        return self.rebuild, self.args


def _stubs(torch, tensors, storage_names=None):
    """(object to pickle, [(key, storage ref, raw bytes)]): one storage per array."""
    state, storages = collections.OrderedDict(), []
    for i, (name, array) in enumerate(tensors.items()):
        array = np.ascontiguousarray(array)
        storage_name = (storage_names or {}).get(name) or STORAGE_OF_DTYPE[array.dtype.name]
        ref = _StorageRef(str(100 + i), getattr(torch, storage_name), array.size)
        stride = [int(np.prod(array.shape[d + 1 :])) for d in range(array.ndim)]
        state[name] = _TensorStub(torch._utils._rebuild_tensor_v2, ref, 0, array.shape, stride)
        storages.append((ref.key, ref, array.astype(array.dtype.newbyteorder("<")).tobytes()))
    return state, storages


def _dumps(obj, storages_seen):
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=2)

    def persistent_id(value):
        if isinstance(value, _StorageRef):
            storages_seen.append(value.key)
            return ("storage", value.storage_class, value.key, "cpu", value.numel, None)
        return None

    pickler.persistent_id = persistent_id
    pickler.dump(obj)
    return buffer.getvalue()


def legacy_bytes(tensors, storage_names=None, obj=None):
    """A legacy `.pth` file's bytes for {name: array} (or `obj`, pickled as is)."""
    with fake_torch() as torch:
        state, storages = _stubs(torch, tensors, storage_names)
        parts = [
            pickle.dumps(LEGACY_MAGIC, protocol=2),
            pickle.dumps(1001, protocol=2),
            pickle.dumps(
                {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}},
                protocol=2,
            ),
            _dumps(state if obj is None else obj, []),
            pickle.dumps([key for key, _, _ in storages], protocol=2),
        ]
    for _, ref, raw in storages:
        parts.append(struct.pack("<q", ref.numel) + raw)
    return b"".join(parts)


def write_legacy(path, tensors, **kwargs):
    with open(path, "wb") as f:
        f.write(legacy_bytes(tensors, **kwargs))
    return str(path)


def write_zip(path, tensors, archive="archive"):
    """A zip-format `.pth` file (torch >= 1.6 default) holding {name: array}."""
    with fake_torch() as torch:
        state, storages = _stubs(torch, tensors)
        data = _dumps(state, [])
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{archive}/data.pkl", data)
        z.writestr(f"{archive}/byteorder", "little")
        z.writestr(f"{archive}/version", "3\n")
        for key, _, raw in storages:
            z.writestr(f"{archive}/data/{key}", raw)
    return str(path)


def state_dict_pickle(tensors, numel=None, layout=None):
    """(data.pkl bytes, {storage key: raw bytes}) of a state dict of {name: array}, one storage
    per array (keys "100", "101", ...). `numel` {name: n}: its storage declares n elements
    whatever the array holds; `layout` {name: (size, stride)}: its tensor's view."""
    with fake_torch() as torch:
        state, storages = _stubs(torch, tensors)
        for name, (size, stride) in (layout or {}).items():
            state[name].args = (state[name].args[0], 0, tuple(size), tuple(stride),
                                *state[name].args[4:])  # fmt: skip
        for name, n in (numel or {}).items():
            state[name].args[0].numel = n
        data = _dumps(state, [])
    return data, {key: raw for key, _, raw in storages}


def deflated_zeros(size, prefix=b""):
    """(raw DEFLATE stream, size, crc32) of `prefix` followed by `size` zero bytes (a multiple
    of 1 MiB), made without compressing them all: after a full flush the compressor starts
    afresh, so each MiB's block is the same bytes, repeated (about 1 KiB per MiB)."""
    mib = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH) if prefix else b""
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(size >> 20):
        crc = zlib.crc32(mib, crc)
    return head + block * (size >> 20) + compressor.flush(), len(prefix) + size, crc


def write_zip_members(path, members):
    """A zip file written by hand, so that a member may be a DEFLATE stream made elsewhere.

    Args:
        members: {name: bytes (stored as is) or (DEFLATE stream, size, crc32) as from
            `deflated_zeros`}; sizes below 4 GiB (no zip64).
    """
    local, central = b"", b""
    for name, member in members.items():
        if isinstance(member, bytes):
            member = (member, len(member), zlib.crc32(member))
            method = zipfile.ZIP_STORED
        else:
            method = zipfile.ZIP_DEFLATED
        data, size, crc = member
        encoded = name.encode()
        # flags, method, time, date (1980-01-01), crc, compressed and real size, name length
        fields = (0, method, 0, 33, crc, len(data), size, len(encoded))
        central += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, *fields, 0, 0,
                               0, 0, 0, len(local)) + encoded  # fmt: skip
        local += struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, *fields, 0) + encoded + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(local), 0)  # fmt: skip
    with open(path, "wb") as f:
        f.write(local + central + end)
    return str(path)
