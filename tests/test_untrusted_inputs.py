"""Files that come from anyone stay bounded: annotation paths stay inside their dataset folder,
and the .pth / .npz / .npy readers read only what the file declares and a file can hold.
No TensorFlow: every test here runs in milliseconds to a second."""

import dataclasses
import io
import json
import os
import pickle
import shutil
import tracemalloc

import numpy as np
import pytest
from test_cub import write_cub
from torch_files import deflated_zeros, state_dict_pickle, write_zip_members

from wsol_tf import models
from wsol_tf.array_files import ArrayFileError, read_npy
from wsol_tf.data.__main__ import main as data_main
from wsol_tf.data.datasets import load_split
from wsol_tf.evaluation.scoremap_files import load_scoremap
from wsol_tf.models import pretrained
from wsol_tf.models.torch_weights import TorchWeightsError, read_state_dict
from wsol_tf.reproduction import runner
from wsol_tf.runs.config import TrainConfig
from wsol_tf.training.workdir import compared_settings

BOMB_BYTES = 64 << 20  # what a bomb inflates to; its file is about 70 KB
SMALL_PEAK = 8 << 20  # far below the bomb: its bytes were never inflated


def _peak_bytes(call):
    """(exception raised by `call`, peak bytes Python and numpy allocated meanwhile)."""
    tracemalloc.start()
    try:
        call()
    except Exception as error:  # noqa: BLE001 - returned for the test to check
        raised = error
    else:
        raised = None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return raised, peak


# --- annotation paths stay inside the dataset folder (issue row 4) ---


def _set_line(path, number, text):
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_cub_image_paths_leaving_the_folder_are_refused_naming_file_and_line(tmp_path):
    # Was: '../' and absolute paths of images.txt were opened and trained on (or a system file
    # read); now the split is refused at load, naming the file and line.
    root = write_cub(tmp_path / "cub")
    shutil.copy(root / "images" / "003.Bird_3" / "img_1.jpg", tmp_path / "outside.jpg")
    _set_line(root / "images.txt", 1, "1 ../../outside.jpg")
    _set_line(root / "images.txt", 3, f"3 {tmp_path / 'outside.jpg'}")
    with pytest.raises(ValueError) as error:
        load_split("cub", str(root), "train")  # lines of the test split are refused too
    assert str(error.value) == (
        f"{root / 'images.txt'}:1: image path '../../outside.jpg' leaves {root / 'images'} "
        "('..') (and 1 more such line)."
    )
    _set_line(root / "images.txt", 1, "1 003.Bird_3/../003.Bird_3/img_1.jpg")  # stays inside
    with pytest.raises(ValueError, match=r"images\.txt:3: image path '/.*outside\.jpg' is abso"):
        load_split("cub", str(root), "test")


def test_check_names_a_path_leaving_the_folder(tmp_path, capsys):
    # Was: `data check` read the file outside and reported nothing.
    root = write_cub(tmp_path / "cub")
    _set_line(root / "images.txt", 2, "2 ../../../etc/hostname")
    assert data_main(["check", "--dataset", "cub", "--data_dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {root / 'images.txt'}:2: image path '../../../etc/hostname'")
    # The opt-in reaches the loaders (and the datasets that list folders have none).
    argv = ["check", "--dataset", "folder", "--data_dir", str(root), "--follow_outside_links"]
    assert data_main(argv) == 2
    assert "unknown option 'follow_outside_links'" in capsys.readouterr().err


def test_links_out_of_the_dataset_folder_need_the_opt_in_but_a_linked_folder_does_not(tmp_path):
    root = write_cub(tmp_path / "cub")
    elsewhere = tmp_path / "elsewhere"
    shutil.move(root / "images" / "007.Bird_7", elsewhere)
    os.symlink(elsewhere, root / "images" / "007.Bird_7")
    with pytest.raises(ValueError) as error:
        load_split("cub", str(root), "test")
    assert str(error.value).startswith(
        f"{root / 'images.txt'}:3: image path '007.Bird_7/img_3.jpg' leads out of "
        f"{root / 'images'} through a symbolic link (to {os.path.realpath(elsewhere)}/img_3.jpg); "
        "--follow_outside_links (a flag of train and data check) reads such links (and 1 "
        "more such line)."
    )  # was "--follow_outside_links reads such links": evaluate has no such flag
    records = load_split("cub", str(root), "test", follow_outside_links=True)
    assert records.image_paths[1] == str(root / "images" / "007.Bird_7" / "img_3.jpg")
    # The dataset folder and its images/ are the user's: links to them (another disk) are
    # resolved first, so such a dataset needs no opt-in.
    other = write_cub(tmp_path / "other")
    shutil.move(other / "images", tmp_path / "disk_images")
    os.symlink(tmp_path / "disk_images", other / "images")
    os.symlink(other, tmp_path / "linked_dataset")
    assert len(load_split("cub", str(tmp_path / "linked_dataset"), "test")) == 2


def _write_metadata(root, ids, localization):
    folder = root / "wsol_metadata" / "test"
    os.makedirs(folder)
    os.makedirs(root / "c")
    for name in ("c/a.jpg", "c/b.jpg", "../x.jpg"):  # ../x.jpg: beside the dataset folder
        (root / name).write_bytes(b"not decoded here")
    (folder / "image_ids.txt").write_text("\n".join(ids) + "\n")
    (folder / "class_labels.txt").write_text("".join(f"{i},0\n" for i in ids))
    (folder / "localization.txt").write_text(localization)
    return folder


def test_wsol_metadata_image_and_mask_paths_stay_inside_their_roots(tmp_path):
    data = tmp_path / "data"
    folder = _write_metadata(data / "one", ["c/a.jpg", "../x.jpg"], "")
    with pytest.raises(ValueError) as error:
        load_split("wsol_metadata", str(data / "one"), "test")
    assert str(error.value) == (
        f"{folder / 'image_ids.txt'}:2: image path '../x.jpg' leaves the folder it is "
        "relative to ('..')."
    )
    masks = "c/a.jpg,c/a.jpg,\nc/b.jpg,{},c/link.png\n"
    folder = _write_metadata(data / "two", ["c/a.jpg", "c/b.jpg"], masks.format("/tmp/m.png"))
    with pytest.raises(ValueError, match=r"localization\.txt:2: mask path '/tmp/m\.png' is abso"):
        load_split("wsol_metadata", str(data / "two"), "test")
    (folder / "localization.txt").write_text(masks.format("c/b.jpg"))
    os.symlink(tmp_path / "secret.png", data / "two" / "c" / "link.png")
    with pytest.raises(ValueError, match=r"localization\.txt:2: mask path 'c/link\.png' leads"):
        load_split("wsol_metadata", str(data / "two"), "test")
    records = load_split("wsol_metadata", str(data / "two"), "test", follow_outside_links=True)
    assert records.ignore_paths[1] == [str(data / "two" / "c" / "link.png")]


def test_the_opt_in_is_a_data_option_that_does_not_change_a_runs_identity(tmp_path):
    config = TrainConfig(dataset="cub", data_dir=str(tmp_path), follow_outside_links=True)
    assert config.validate().split_options() == {"follow_outside_links": True}
    # Resuming with or without it is the same run: the data read is compared by content.
    without = dataclasses.replace(config, follow_outside_links=False)
    assert compared_settings(config) == compared_settings(without)
    with pytest.raises(ValueError, match="--follow_outside_links: --dataset=folder reads no"):
        TrainConfig(dataset="folder", data_dir=str(tmp_path), follow_outside_links=True).validate()


def test_the_opt_in_is_no_part_of_a_reproduced_results_identity(tiny_data):
    """A result.json written before the field existed (its config has no such key) is
    reused, with the opt-in or without it."""
    config = TrainConfig(dataset="cub", data_dir=tiny_data, follow_outside_links=True)
    earlier = json.loads(config.to_json())
    del earlier["follow_outside_links"]
    for name in runner.ADDED_WITH_DEFAULT:  # fields added later still, at their defaults
        earlier.pop(name, None)
    for settings in (config, dataclasses.replace(config, follow_outside_links=False)):
        assert runner.identity(settings)["config"] == earlier


# --- torch .pth files: read only what the pickle declares, bounded by the file (row 5) ---


def test_pth_member_inflating_past_its_declared_storage_is_refused_unread(tmp_path):
    # Was: the case: a 3 MB .pth whose storage member inflates to 3 GiB, the pickle
    # declaring one float, was inflated whole (7 GB peak) before anything was checked.
    data, _ = state_dict_pickle({"w": np.zeros(1, np.float32)})
    path = write_zip_members(tmp_path / "bomb.pth", {
        "archive/data.pkl": data, "archive/data/100": deflated_zeros(BOMB_BYTES)})  # fmt: skip
    assert os.path.getsize(path) < 100_000
    error, peak = _peak_bytes(lambda: read_state_dict(path))
    assert isinstance(error, TorchWeightsError)
    assert str(error) == f"{path}: archive/data/100 holds {BOMB_BYTES} bytes where 4 are declared"
    assert peak < SMALL_PEAK
    # The flag check (train's, before TensorFlow and the workdir) refuses it the same way.
    error, peak = _peak_bytes(
        lambda: pretrained.check_pretrained(models.spec("efficientnet_lite0"), path)
    )
    assert str(error) == f"{path}: archive/data/100 holds {BOMB_BYTES} bytes where 4 are declared"
    assert peak < SMALL_PEAK


def test_pth_storage_larger_than_the_file_can_hold_is_refused_unread(tmp_path):
    # The pickle declares the bomb's size too: consistent, but 900 times the file's size.
    data, _ = state_dict_pickle({"w": np.zeros(1, np.float32)}, numel={"w": BOMB_BYTES // 4})
    path = write_zip_members(tmp_path / "bomb.pth", {
        "archive/data.pkl": data, "archive/data/100": deflated_zeros(BOMB_BYTES)})  # fmt: skip
    error, peak = _peak_bytes(lambda: read_state_dict(path))
    assert isinstance(error, TorchWeightsError)
    assert str(error).startswith(f"{path}: storage 100 would bring the bytes read out of this")
    assert "refused unread (a decompression bomb, or a damaged file)" in str(error)
    assert peak < SMALL_PEAK


def test_pth_tensor_repeating_its_storage_is_bounded(tmp_path):
    # One stored float viewed 16M times (stride 0) would be copied into 64 MiB.
    data, storages = state_dict_pickle(
        {"w": np.ones(1, np.float32)}, layout={"w": ((BOMB_BYTES // 4,), (0,))}
    )
    path = write_zip_members(tmp_path / "views.pth", {
        "archive/data.pkl": data, "archive/data/100": storages["100"]})  # fmt: skip
    error, peak = _peak_bytes(lambda: read_state_dict(path))
    assert isinstance(error, TorchWeightsError)
    assert f"a tensor of size ({BOMB_BYTES // 4},) would bring the bytes read" in str(error)
    assert peak < SMALL_PEAK


# --- .npz (Tensorpack checkpoints) and .npy (score maps): one line naming the file (row 9) ---


def _npy_header(shape, descr="<f8"):
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False,
                                               "shape": shape})  # fmt: skip
    return out.getvalue()


def _npy_bytes(array):
    out = io.BytesIO()
    np.save(out, array, allow_pickle=True)
    return out.getvalue()


def _npz_bomb():
    """An .npz member whose header honestly declares the 64 MiB it inflates to."""
    return deflated_zeros(BOMB_BYTES, prefix=_npy_header((BOMB_BYTES // 8,)))


def _bad_npz(kind, path):
    if kind == "objects":
        np.savez(path, **{"conv/W:0": np.array([{"x": 1}], dtype=object)})
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"conv/W:0": 1}))
    elif kind == "one .npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(2))
    elif kind == "huge header":
        write_zip_members(path, {"conv/W:0.npy": _npy_header((10**6, 10**6)) + bytes(8)})
    elif kind == "truncated":
        np.savez(path, **{"conv/W:0": np.zeros(50)})
        path.write_bytes(path.read_bytes()[:200])
    return str(path)


class _Layer:
    def __init__(self, *shapes):
        self.weights = [np.zeros(s) for s in shapes]

    def set_weights(self, arrays):
        self.weights = arrays


class _Model:
    def __init__(self, **layers):
        self.layers = layers

    def get_layer(self, name):
        return self.layers[name]


@pytest.mark.parametrize("kind", ["objects", "pickle", "one .npy", "huge header", "truncated"])
def test_bad_npz_is_refused_in_one_line_naming_the_file(kind, tmp_path):
    # Was: "Object arrays cannot be loaded when allow_pickle=False", "This file contains
    # pickled (object) data. If you trust the file ... `allow_pickle=`", "Unable to allocate
    # 7.28 TiB", "'numpy.ndarray' object has no attribute ...": no file named.
    path = _bad_npz(kind, tmp_path / "x.npz")
    with pytest.raises(ValueError) as error:  # ArrayFileError: one line from wsol_tf.cli
        pretrained._load_tensorpack(_Model(conv=_Layer((2,))), {"conv": ["conv/W"]}, path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "allow_pickle" not in message


def test_npz_bomb_is_refused_unread_and_unused_members_are_never_read(tmp_path):
    # Was: np.load inflated every member, the unused ones too (a Tensorpack VGG16 checkpoint's
    # fc layers, 480 MB, for a backbone that takes none of them).
    path = write_zip_members(tmp_path / "bomb.npz", {"conv/W:0.npy": _npz_bomb()})
    model = _Model(conv=_Layer((2,)))
    error, peak = _peak_bytes(lambda: pretrained._load_tensorpack(model, {"conv": ["conv/W"]},
                                                                  path))  # fmt: skip
    assert isinstance(error, ArrayFileError)
    assert str(error).startswith(f"{path}: array 'conv/W:0' would bring the bytes read out of")
    assert peak < SMALL_PEAK
    with pytest.raises(ArrayFileError, match="would bring the bytes read"):  # the flag check
        pretrained.check_pretrained(models.spec("resnet50se"), path)
    path = write_zip_members(tmp_path / "unused.npz", {
        "conv/b.npy": _npy_bytes(np.arange(2.0)), "fc6/W.npy": _npz_bomb(),
        "fc7/W.npy": _npy_bytes(np.array([{}]))})  # fmt: skip
    result, peak = _peak_bytes(lambda: pretrained._load_tensorpack(model, {"conv": ["conv/b"]},
                                                                   path))  # fmt: skip
    assert result is None and peak < SMALL_PEAK
    np.testing.assert_array_equal(model.get_layer("conv").weights[0], [0.0, 1.0])
    assert pretrained._load_tensorpack(model, {"conv": ["conv/b"]}, path) == (
        ["conv"], ["fc6/W", "fc7/W"], [])  # fmt: skip


def test_score_maps_are_never_unpickled_and_no_larger_than_their_file(tmp_path):
    # Was: "not a readable .npy array (This file contains pickled (object) data. If you trust
    # the file you can load it unsafely using the `allow_pickle=` keyword argument ...)".
    (tmp_path / "a.jpg.npy").write_bytes(pickle.dumps([[0.5]]))
    with pytest.raises(ValueError) as error:
        load_scoremap(str(tmp_path), "a.jpg")
    assert str(error.value) == (
        f"{tmp_path / 'a.jpg.npy'}: not a readable .npy array (it holds a pickle, which is never "
        "read: it could run code)"
    )
    (tmp_path / "b.jpg.npy").write_bytes(_npy_header((10**5, 10**5)) + bytes(8))
    with pytest.raises(ValueError, match=r"b\.jpg\.npy: its header declares an array of shape "
                       r"\(100000, 100000\) and dtype float64 \(80000000000 bytes\), but it "
                       r"holds 8 bytes"):  # fmt: skip
        load_scoremap(str(tmp_path), "b.jpg")
    good = np.asfortranarray(np.linspace(0, 1, 12).reshape(3, 4))
    np.save(tmp_path / "c.jpg.npy", good)
    np.testing.assert_array_equal(read_npy(str(tmp_path / "c.jpg.npy")), good)
