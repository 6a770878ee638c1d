"""Issue 30: a kill at any instant, or a full disk, leaves the old state or the new one.

Kills are real (SIGKILL) where what a dead process leaves is the subject: a small Python
subprocess wraps the library function called at the chosen moment so that it kills its own
process there, then calls the library as a command would. Where nothing runs between the
chosen moment and the end of the call (no `finally`, no handler), an exception raised there
in-process leaves the same files and costs no TensorFlow start-up. Everything runs on the tiny
synthetic set of tests/test_reliability.py and tinyvgg, two epochs of three steps.
"""

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from wsol_tf import cli, files, training
from wsol_tf.files import DiskFull, write_folder_atomic, write_json
from wsol_tf.runs.config import TrainConfig

SETTINGS = dict(
    model="tinyvgg", dataset="cub", method="adl", epochs=2, batch_size=8, lr=0.01,
    image_size=(32, 48), seed=3, log_every=1, tensorboard=False, val_split="test",
)  # fmt: skip
TIMINGS = ("seconds", "images_per_second")


class Killed(BaseException):
    """Stands for SIGKILL in-process: no handler of the library catches it."""


def config_for(data_dir, workdir, **overrides):
    return TrainConfig.from_settings(
        **{**SETTINGS, "data_dir": str(data_dir), "workdir": str(workdir), **overrides}
    )


@pytest.fixture(scope="module")
def uninterrupted(tiny_data, tmp_path_factory):
    """The run trained in one go (validated each epoch, checkpoints ckpt-3 and ckpt-6)."""
    workdir = tmp_path_factory.mktemp("run") / "straight"
    training.train(config_for(tiny_data, workdir), print_fn=lambda _: None)
    return str(workdir)


def run_python(code, timeout=300):
    """Runs `code` in a fresh Python (this checkout importable); returns the CompletedProcess."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), env.get("PYTHONPATH", "")]
    )
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip


def snapshot(folder):
    """{relative path: sha1} of every file under `folder`."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha1(f.read()).hexdigest()
    return found


def assert_same_log(log, expected):
    """The same records, keys and values (to float rounding), timings aside."""
    assert [sorted(r) for r in log] == [sorted(r) for r in expected]
    for record, other in zip(log, expected, strict=True):
        for key, value in other.items():
            if key not in TIMINGS:
                assert record[key] == pytest.approx(value, rel=1e-5), (record["epoch"], key)


def read(path):
    with open(path) as f:
        return json.load(f)


# --- rows 6 and 8: kills during and after checkpoints ---------------------------------------


@pytest.mark.slow
def test_kills_around_checkpoints_lose_no_epoch_and_leave_no_temporary(
    tiny_data, uninterrupted, tmp_path, monkeypatch
):
    """Killed inside a checkpoint write (then resumed with another --checkpoint_every_steps,
    so that step is never saved again), then after an epoch's checkpoint and before its log,
    mid-run and after the last epoch: the dead write's ckpt-2_temp/ is removed, and the final
    train_log.json and best/ are the uninterrupted run's (timings aside)."""
    import tensorflow as tf

    workdir = tmp_path / "killed"
    checkpoints = workdir / "checkpoints"
    # 1. SIGKILL inside ckpt-2's write: its files are written, not yet moved into place.
    settings = {**SETTINGS, "checkpoint_every_steps": 1}
    killed = run_python(f"""
        import os, signal
        from tensorflow.python.checkpoint import functional_saver
        from wsol_tf import training
        from wsol_tf.runs.config import TrainConfig

        merge = functional_saver.gen_io_ops.merge_v2_checkpoints
        def dies_in_ckpt_2(prefixes, destination, **kwargs):
            if destination.numpy().decode().endswith("ckpt-2"):
                os.kill(os.getpid(), signal.SIGKILL)
            return merge(prefixes, destination, **kwargs)
        functional_saver.gen_io_ops.merge_v2_checkpoints = dies_in_ckpt_2
        config = TrainConfig.from_settings(**{settings!r}, data_dir={tiny_data!r},
                                           workdir={str(workdir)!r})
        training.train(config, print_fn=lambda _: None)
    """)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert os.listdir(checkpoints / "ckpt-2_temp")  # TensorFlow's files, as the kill left them

    # 2. Resumed from ckpt-1 with checkpoints at epoch ends only; killed after ckpt-3 is saved
    # (the end of epoch 1), before its validation and log.
    save = tf.train.CheckpointManager.save

    def dies_after(step):
        def saves_then_dies(self, checkpoint_number=None, **kwargs):
            path = save(self, checkpoint_number=checkpoint_number, **kwargs)
            if checkpoint_number == step:
                raise Killed
            return path

        return saves_then_dies

    config = config_for(tiny_data, workdir)
    monkeypatch.setattr(tf.train.CheckpointManager, "save", dies_after(3))
    lines = []
    with pytest.raises(Killed):
        training.train(config, print_fn=lines.append)
    assert not (checkpoints / "ckpt-2_temp").exists()  # was: kept, never saved again
    assert sorted(os.listdir(checkpoints)) == [
        "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index", "ckpt-3.data-00000-of-00001",
        "ckpt-3.index", "epoch_progress.json",
    ]  # fmt: skip
    assert any("ckpt-2_temp" in line for line in lines)  # the removal is said
    assert not (workdir / "train_log.json").exists() and not (workdir / "best").exists()

    # 3. Resumed: epoch 1 is validated and logged first; killed after ckpt-6, before its log.
    monkeypatch.setattr(tf.train.CheckpointManager, "save", dies_after(6))
    with pytest.raises(Killed):
        training.train(config, print_fn=lines.append)
    straight = read(os.path.join(uninterrupted, "train_log.json"))
    assert_same_log(read(workdir / "train_log.json"), straight[:1])  # was: no file

    # 4. Trained to the end but its last epoch unlogged: not "done"; epoch 2 is logged.
    monkeypatch.setattr(tf.train.CheckpointManager, "save", save)
    log = training.train(config, print_fn=lines.append)
    assert_same_log(log, straight)
    assert_same_log(read(workdir / "train_log.json"), straight)
    best, expected = (read(os.path.join(w, "best", "best.json")) for w in (workdir, uninterrupted))
    assert best == pytest.approx(expected) and best["epoch"] == expected["epoch"]
    assert not [name for name in os.listdir(checkpoints) if "temp" in name]


# --- row 7: a kill during export --------------------------------------------------------------


@pytest.mark.slow
def test_a_kill_during_export_keeps_the_earlier_export_whole(uninterrupted, tmp_path):
    """SIGKILL after the new variables are written, before the new saved_model.pb: --out is
    still the earlier export, file for file; the dead export's folder beside it is one the
    next export removes (`write_folder_atomic` removes such folders first)."""
    out, before = tmp_path / "exported", tmp_path / "before"
    ckpt_3 = os.path.join(uninterrupted, "checkpoints", "ckpt-3")
    killed = run_python(f"""
        import os, shutil, signal
        from absl import flags
        from tensorflow.python.lib.io import file_io
        from wsol_tf import export

        flags.FLAGS(["export", "--workdir={uninterrupted}", "--out={out}"])
        assert export.main(["export"]) == 0  # the latest checkpoint, ckpt-6
        shutil.copytree({str(out)!r}, {str(before)!r})
        write = file_io.atomic_write_string_to_file
        def dies_at_the_graph(path, *args, **kwargs):
            if str(path).endswith("saved_model.pb"):
                os.kill(os.getpid(), signal.SIGKILL)
            return write(path, *args, **kwargs)
        file_io.atomic_write_string_to_file = dies_at_the_graph
        flags.FLAGS.checkpoint = {ckpt_3!r}
        export.main(["export"])
    """)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert snapshot(out) == snapshot(before)  # was: the old saved_model.pb, the new variables
    assert "classes.json" in snapshot(out) and "variables/variables.index" in snapshot(out)
    (dead,) = (name for name in os.listdir(tmp_path) if name.startswith("."))
    assert os.path.isfile(tmp_path / dead / "variables" / "variables.index")  # written, no graph
    assert files.remove_dead_temporaries(str(out)) == [dead]
    assert sorted(os.listdir(tmp_path)) == ["before", "exported"]


# --- folders written whole --------------------------------------------------------------------


def dead_pid():
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def test_a_folder_is_replaced_whole_and_a_dead_writers_leftovers_are_removed(tmp_path, monkeypatch):
    target = tmp_path / "out"

    def writes(text):
        def write(folder):
            os.makedirs(os.path.join(folder, "sub"))
            with open(os.path.join(folder, "sub", "f"), "w") as f:
                f.write(text)

        return write

    write_folder_atomic(str(target), writes("one"))
    assert (target / "sub" / "f").read_text() == "one"
    assert oct(target.stat().st_mode & 0o777) == oct(0o777 & ~files._umask())

    def fails(folder):
        writes("two")(folder)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_folder_atomic(str(target), fails)
    assert (target / "sub" / "f").read_text() == "one"  # the earlier folder, whole
    assert os.listdir(tmp_path) == ["out"]  # its temporary removed

    # A dead writer's folder is removed, a live one's kept, another name's never touched; where
    # it died between the two renames (no `out`), the earlier folder is put back.
    live = f".out.new-{os.getppid()}-abcdefgh"
    leftovers = [f".out.new-{dead_pid()}-abcdefgh", live, f".other.new-{dead_pid()}-abcdefgh"]
    for name in leftovers:
        os.makedirs(tmp_path / name)
    os.rename(target, tmp_path / f".out.old-{dead_pid()}-abcdefgh")
    assert files.remove_dead_temporaries(str(target)) == [leftovers[0]]
    assert (target / "sub" / "f").read_text() == "one"
    assert sorted(os.listdir(tmp_path)) == sorted([live, leftovers[2], "out"])
    os.makedirs(tmp_path / leftovers[0])  # another dead writer's: the next write removes it
    monkeypatch.setattr(files, "_exchange", lambda *_: False)  # a filesystem without it
    write_folder_atomic(str(target), writes("three"))
    assert (target / "sub" / "f").read_text() == "three"
    assert sorted(os.listdir(tmp_path)) == sorted([live, leftovers[2], "out"])


# --- row 9 (part): a full disk ----------------------------------------------------------------


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_partial_file(
    tmp_path, monkeypatch, capsys
):
    path = tmp_path / "train_log.json"
    path.write_text("[]\n")
    monkeypatch.setattr(files.os, "fsync", full_disk)

    def main(argv):
        write_json(str(path), [{"epoch": 1}])

    assert cli.guarded(main)(["train"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"error: {path}: cannot write it, the disk is full (No space left on device); nothing "
        "half-written was left. Free some space and run again."
    )  # was: "error: [Errno 28] No space left on device"
    assert os.listdir(tmp_path) == ["train_log.json"] and path.read_text() == "[]\n"


def test_a_checkpoint_save_on_a_full_disk_leaves_none_of_its_files(tmp_path, monkeypatch):
    """TensorFlow leaves `ckpt-N_temp/` (with the partial file of a kill) when a save fails."""
    import tensorflow as tf
    from tensorflow.python.checkpoint import functional_saver

    from wsol_tf.runs.checkpoints import save_checkpoint

    directory = tmp_path / "checkpoints"
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(v=tf.Variable(tf.zeros([1000]))), str(directory), max_to_keep=2
    )
    save_checkpoint(manager, 1)

    def fails_full(prefixes, destination, **kwargs):  # after the files are written, as TF does
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{directory}/ckpt-2_temp/part-00000-of-00001.data-00000-of-00001"
            ".tempstate1; No space left on device"
        )  # fmt: skip

    monkeypatch.setattr(functional_saver.gen_io_ops, "merge_v2_checkpoints", fails_full)
    with pytest.raises(DiskFull, match=rf"^{directory}/ckpt-2: cannot write it, the disk is full"):
        save_checkpoint(manager, 2)
    assert sorted(os.listdir(directory)) == [
        "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index",
    ]  # fmt: skip


def test_a_real_full_disk_leaves_nothing_half_written(tmp_path):
    """On a 1 MiB tmpfs (skipped where it cannot be mounted): a file, a checkpoint and a
    folder too big for it each fail with one line naming it, and leave nothing."""
    import tensorflow as tf

    from wsol_tf.runs.checkpoints import save_checkpoint

    disk = tmp_path / "disk"
    disk.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root on Linux")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        with pytest.raises(DiskFull, match=rf"^{disk}/big.json: cannot write it, the disk"):
            write_json(str(disk / "big.json"), "x" * 2_000_000)
        manager = tf.train.CheckpointManager(
            tf.train.Checkpoint(v=tf.Variable(tf.zeros([600_000]))), str(disk / "checkpoints"), 1
        )
        with pytest.raises(DiskFull, match=rf"^{disk}/checkpoints/ckpt-7: cannot write it"):
            save_checkpoint(manager, 7)

        def big(folder):
            with open(os.path.join(folder, "f"), "w") as f:
                f.write("x" * 2_000_000)

        with pytest.raises(DiskFull, match=rf"^{disk}/folder: cannot write it"):
            write_folder_atomic(str(disk / "folder"), big)
        assert snapshot(disk) == {} and os.listdir(disk) == ["checkpoints"]
        assert os.listdir(disk / "checkpoints") == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_the_extractors_table_is_written_whole(tmp_path, monkeypatch):
    """`reproduce --tables=extractors` writes EXTRACTORS.md as every report: a failure while
    the table is made (a kill, a full disk) leaves the earlier file, not its first line."""
    import types

    from wsol_tf import reproduce
    from wsol_tf.reproduction import extractors_table

    path = tmp_path / "EXTRACTORS.md"
    path.write_text("the earlier table\n")
    monkeypatch.setattr(extractors_table, "evaluate_extractors", lambda workdirs, cams: [])

    def fails(rows):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(extractors_table, "markdown", fails)
    monkeypatch.setattr(reproduce, "FLAGS", types.SimpleNamespace(
        workdir=str(tmp_path), extractors_md=str(path), extractor_workdirs=[],
        extractor_scorecam_max_channels=8))  # fmt: skip
    with pytest.raises(OSError):
        reproduce.extractors_table(["reproduce"])
    assert path.read_text() == "the earlier table\n"  # was: only its "Command: ..." line
    assert sorted(os.listdir(tmp_path)) == ["EXTRACTORS.md"]


def test_best_model_can_be_evaluated(tmp_path):
    """best/model is written by `Checkpoint.write` (no save counter): `--checkpoint=<workdir>/
    best/model` restores it, as it does a kept checkpoint."""
    import numpy as np
    import tensorflow as tf

    from wsol_tf import models
    from wsol_tf.runs.checkpoints import restore_model

    model = models.build("tinyvgg", 3, method="cam", image_size=(32, 48))
    model.weights[0].assign(tf.ones_like(model.weights[0]))
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "best" / "model"))
    fresh = restore_model(models.build("tinyvgg", 3, method="cam", image_size=(32, 48)), path)
    np.testing.assert_array_equal(fresh.weights[0].numpy(), model.weights[0].numpy())


def test_a_read_only_checkpoints_folder_is_named_before_training(tmp_path, monkeypatch):
    """Resuming writes in <workdir>/checkpoints: one that cannot be written is named at the
    start (was: after a whole epoch, naming a temporary file)."""
    from wsol_tf.training import api

    config = TrainConfig.from_settings(model="tinyvgg", dataset="synthetic", method="cam",
                                       workdir=str(tmp_path / "run"))  # fmt: skip
    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    mkstemp = files.tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if os.path.abspath(dir) == str(checkpoints):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return mkstemp(*args, dir=dir, **kwargs)

    def no_data(*args, **kwargs):
        raise AssertionError("the data was read before the checkpoints folder was checked")

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    monkeypatch.setattr(api, "load_split", no_data)
    with pytest.raises(files.NotWritable, match=rf"^{checkpoints}: cannot write in {checkpoints} "
                       r"\(Read-only file system\)"):  # fmt: skip
        api.train(config)
