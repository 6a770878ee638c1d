"""The torch .pth reader: files torch wrote, files written by hand, and files it must refuse."""

import os
import pickle
import zipfile

import numpy as np
import pytest
from torch_files import legacy_bytes, write_legacy, write_zip

from wsol_tf.models.torch_weights import TorchWeightsError, read_state_dict, read_tensors

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def _golden():
    """What tests/data/torch_{legacy,zip}.pth hold, by hand. They were written by torch 2.13:
    base = arange(24).reshape(4, 6); {"conv.weight": arange(54).reshape(3, 2, 3, 3) / 8,
    "transposed": base.t(), "slice": base[1:3, 2:], "half": [1.5, -2.25, 65504] float16,
    "bf16": [1, -3.5, 0.15625] bfloat16, "steps": tensor(7) int64, "flags": [T, F, T],
    "empty": zeros(0, 5), "param": Parameter(full((2,), -0.5) float64)}, saved with
    torch.save(sd, path[, _use_new_zipfile_serialization=False])."""
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    return {
        "conv.weight": np.arange(54, dtype=np.float32).reshape(3, 2, 3, 3) / 8,
        "transposed": base.T,  # a strided view of base's storage
        "slice": base[1:3, 2:],  # offset 8, strides (6, 1)
        "half": np.array([1.5, -2.25, 65504.0], np.float16),
        "bf16": np.array([1.0, -3.5, 0.15625], np.float32),  # bfloat16 widened
        "steps": np.array(7, np.int64),
        "flags": np.array([True, False, True]),
        "empty": np.zeros((0, 5), np.float32),
        "param": np.full(2, -0.5, np.float64),
    }


@pytest.mark.parametrize("name", ["torch_legacy.pth", "torch_zip.pth"])
def test_files_written_by_torch(name):
    state = read_state_dict(os.path.join(DATA, name))
    golden = _golden()
    assert list(state) == list(golden)  # the state dict's order is kept
    for key, expected in golden.items():
        assert state[key].dtype == expected.dtype, key
        assert state[key].shape == expected.shape, key
        np.testing.assert_array_equal(state[key], expected, err_msg=key)
        assert state[key].flags.c_contiguous
    assert np.shares_memory(state["transposed"], state["slice"]) is False


def _random_tensors(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "features.0.weight": rng.normal(size=(8, 3, 3, 5)).astype(np.float32),  # non-square
        "features.1.running_var": rng.uniform(0.1, 2.0, 8).astype(np.float32),
        "head.weight": rng.normal(size=(4, 8)).astype(np.float64),
        "head.count": np.array(3, np.int64),
    }


@pytest.mark.parametrize("writer", [write_legacy, write_zip])
def test_round_trip_of_hand_written_files(writer, tmp_path):
    tensors = _random_tensors()
    path = writer(tmp_path / "model.pth", tensors)
    state = read_tensors(path)
    assert list(state) == list(tensors)
    for key, value in tensors.items():
        assert state[key].dtype == value.dtype
        np.testing.assert_array_equal(state[key], value)


def test_zip_archive_folder_name_is_free(tmp_path):
    # torch names the zip's top folder after the file (older versions) or "archive".
    path = write_zip(tmp_path / "x.pth", {"w": np.ones((2, 3), np.float32)}, archive="x")
    np.testing.assert_array_equal(read_tensors(path)["w"], np.ones((2, 3)))


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    exploit = _Exploit()
    exploit.marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(legacy_bytes({}, obj={"w": exploit}))
    with pytest.raises(TorchWeightsError, match=r"evil\.pth.*refusing global (posix|os)\.system"):
        read_state_dict(path)
    assert not exploit.marker.exists()
    # The same inside a zip archive.
    zipped = tmp_path / "evil_zip.pth"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": exploit}, protocol=2))
    with pytest.raises(TorchWeightsError, match=r"evil_zip\.pth.*refusing global"):
        read_state_dict(zipped)
    assert not exploit.marker.exists()


def test_arbitrary_builtin_callable_is_refused(tmp_path):
    path = tmp_path / "eval.pth"
    path.write_bytes(legacy_bytes({}, obj=pickle.loads(pickle.dumps({"w": 1}))))
    read_state_dict(path)  # plain data is fine
    payload = b"\x80\x02cbuiltins\neval\nX\x06\x00\x00\x001 + 1\x85R."
    data = legacy_bytes({})
    header_end = data.index(b"\x80\x02", 30)  # the object pickle follows the 3 header pickles
    path.write_bytes(data[:header_end] + payload + data[header_end:])
    with pytest.raises(TorchWeightsError, match=r"eval\.pth.*refusing global builtins\.eval"):
        read_state_dict(path)


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.999])
def test_truncated_legacy_file_is_refused(keep, tmp_path):
    data = legacy_bytes(_random_tensors())
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(TorchWeightsError, match=r"cut\.pth: .*(truncated|not a)"):
        read_state_dict(path)


def test_truncated_zip_file_is_refused(tmp_path):
    full = tmp_path / "full.pth"
    write_zip(full, _random_tensors())
    data = full.read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TorchWeightsError, match=r"cut\.pth: .*damaged zip"):
        read_state_dict(path)


def test_storage_shorter_than_its_tensor_is_refused(tmp_path):
    data = bytearray(legacy_bytes({"w": np.zeros(6, np.float32)}))
    # The element count before the raw bytes says 6; make the pickle's count disagree.
    count = (6).to_bytes(8, "little")
    at = bytes(data).rindex(count)
    data[at : at + 8] = (5).to_bytes(8, "little")
    path = tmp_path / "short.pth"
    path.write_bytes(bytes(data))
    with pytest.raises(TorchWeightsError, match=r"short\.pth: storage .* 5 elements"):
        read_state_dict(path)


def test_wrong_magic_and_other_files_are_refused(tmp_path):
    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(pickle.dumps(12345, protocol=2) + pickle.dumps(1001, protocol=2))
    with pytest.raises(
        TorchWeightsError, match=r"wrong\.pth: not a torch \.pth file \(wrong magic"
    ):
        read_state_dict(wrong)
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(TorchWeightsError, match=r"notes\.pth: not a torch \.pth file"):
        read_state_dict(text)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(TorchWeightsError, match=r"empty\.pth: empty file"):
        read_state_dict(empty)
    other_zip = tmp_path / "other.pth"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("readme.txt", "not torch")
    with pytest.raises(TorchWeightsError, match=r"other\.pth: .*no <archive>/data\.pkl"):
        read_state_dict(other_zip)
    with pytest.raises(FileNotFoundError, match=r"absent\.pth"):
        read_state_dict(tmp_path / "absent.pth")


def test_unknown_storage_dtype_is_refused(tmp_path):
    path = write_legacy(
        tmp_path / "complex.pth",
        {"w": np.zeros(4, np.float32)},
        storage_names={"w": "ComplexFloatStorage"},
    )
    with pytest.raises(TorchWeightsError, match=r"complex\.pth: .*torch\.ComplexFloatStorage"):
        read_state_dict(path)


def test_read_tensors_wants_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    path.write_bytes(legacy_bytes({}, obj=[1, 2]))
    with pytest.raises(TorchWeightsError, match=r"list\.pth: holds a list, not a state dict"):
        read_tensors(path)
