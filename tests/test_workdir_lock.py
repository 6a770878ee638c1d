"""Issue 30 rows 1 and 2: one writer per run, and `--fresh` deletes a reproduction's own runs
only.

A process that writes a run (`train`, the runner) or a reproduction or a sweep holds its
folder's lock (`wsol_tf.training.lock`); a second process is refused naming the holder, a
holder that was killed blocks nothing, and `--noresume` never moves a folder a live process
holds. No test here imports TensorFlow: the "other process" is a small Python process that
holds a lock the way `train` does (`test_train_holds_its_workdir_from_prepare_to_the_end`
shows that `train` does), and the command-line refusals happen before TensorFlow is imported.
"""

import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from wsol_tf.runs.config import TrainConfig
from wsol_tf.training import lock
from wsol_tf.training import workdir as workdir_lib

SETTINGS = dict(
    model="tinyvgg", dataset="synthetic", method="cam", epochs=1, batch_size=4,
    image_size=(32, 48), seed=0,
)  # fmt: skip
HOLDER = """
import sys, time
from wsol_tf.training import lock
with lock.hold(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def config_in(folder, **overrides):
    return TrainConfig.from_settings(**{**SETTINGS, **overrides}, workdir=str(folder))


def a_run(folder, **settings):
    """A run's folder with a checkpoint (what `train` leaves after its first epoch)."""
    config_in(folder, **{"lr": 0.02, **settings}).save(str(folder))
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "ckpt-3.index").write_bytes(b"weights")
    (folder / "train_log.json").write_text('[{"epoch": 1}]')
    return folder


def listing(folder):
    return sorted(os.path.relpath(os.path.join(r, f), folder)
                  for r, _, files in os.walk(folder) for f in files)  # fmt: skip


@contextlib.contextmanager
def other_process_holding(folder):
    """A live process (not this one) that holds `folder`'s lock; yields it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.wait()


def locked_elsewhere(folder):
    """Whether the lock file of `folder` is flock-ed (tried through a new open file, which
    conflicts with any other holder, this process included)."""
    fd = os.open(lock.lock_path(folder), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        assert error.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
        return True
    finally:
        os.close(fd)
    return False


def run_cli(*args, env=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=120
    )


# --- row 2: one writer per run ----------------------------------------------------------------


def test_a_live_holder_refuses_the_second_writer_and_noresume_and_a_killed_one_blocks_nothing(
    tmp_path,
):
    run = a_run(tmp_path / "run")
    before = listing(run)
    with other_process_holding(run) as holder:
        with pytest.raises(
            lock.WorkdirBusy, match=rf"--workdir={run} is in use by pid {holder.pid}"
        ):
            with lock.hold(str(run)):
                pass
        # --noresume (and the runner's replace) never moves or deletes a run that is written.
        for replace in ("move", "delete"):
            with pytest.raises(lock.WorkdirBusy, match=f"pid {holder.pid} on host"):
                workdir_lib.prepare(
                    config_in(run, lr=0.05), {}, 3, resume=False, replace=replace, print_fn=print
                )
        assert lock.holder(str(run)).startswith(f"pid {holder.pid} on host {socket.gethostname()}")
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing moved aside
    assert listing(run) == sorted([*before, lock.LOCK_FILE])  # the killed holder's file stays
    assert lock.holder(str(run)) is None  # ... and blocks nothing
    with lock.hold(str(run)):
        info = json.loads((run / lock.LOCK_FILE).read_text())
        assert (info["pid"], info["host"]) == (os.getpid(), socket.gethostname())
    assert listing(run) == before  # released: the lock file is gone


def test_train_refuses_a_workdir_another_process_writes_in_one_line_before_tensorflow(
    tmp_path, tiny_data, no_tensorflow
):
    run = a_run(tmp_path / "run", dataset="cub", data_dir=tiny_data, batch_size=8)
    before = listing(run)
    # The same run (it would resume) and, with --noresume, another one (it would move it).
    train = ["wsol_tf.train", "--model=tinyvgg", "--method=cam", "--seed=0", "--lr=0.02",
             "--dataset=cub", f"--data_dir={tiny_data}", "--batch_size=8",
             "--image_size=32,48", "--epochs=1", f"--workdir={run}"]  # fmt: skip
    with other_process_holding(run) as holder:
        for extra in ([], ["--noresume", "--lr=0.05"]):
            result = run_cli(*train, *extra, env=no_tensorflow)
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
            assert lines[0].startswith(f"error: --workdir={run} is in use by pid {holder.pid}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert listing(run) == sorted([*before, lock.LOCK_FILE])


def test_train_holds_its_workdir_from_prepare_to_the_end_and_releases_it_on_error(
    tmp_path, tiny_data, monkeypatch
):
    from wsol_tf import training
    from wsol_tf.training import api

    seen = {}

    def train_loop(config, records, val_records, plan, print_fn):
        seen["config.json"] = os.path.isfile(os.path.join(config.workdir, "config.json"))
        seen["locked"] = locked_elsewhere(config.workdir)
        raise KeyboardInterrupt  # stopped half-way: the lock must still be released

    monkeypatch.setattr(api, "_train", train_loop)
    workdir = tmp_path / "new" / "run"
    config = config_in(workdir, dataset="cub", data_dir=tiny_data, batch_size=8)
    with pytest.raises(KeyboardInterrupt):
        training.train(config, print_fn=lambda _: None)
    assert seen == {"config.json": True, "locked": True}
    assert not (workdir / lock.LOCK_FILE).exists() and (workdir / "config.json").exists()
    # A run refused after the lock was taken leaves nothing, not even the folder it created.
    fork = config_in(tmp_path / "fork", dataset="cub", data_dir=tiny_data, batch_size=8)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        training.train(fork, fork_from=str(workdir), print_fn=lambda _: None)
    assert not (tmp_path / "fork").exists()


def test_noresume_moves_a_held_run_aside_and_the_new_run_stays_locked(tmp_path):
    run = a_run(tmp_path / "run")
    before = listing(run)
    lines = []
    with lock.hold(str(run)):  # as `train` holds it around `prepare`
        plan = workdir_lib.prepare(
            config_in(run, lr=0.05), {}, 3, resume=False, replace="move", print_fn=lines.append
        )
        (aside,) = tmp_path.glob("run.replaced-*")
        assert plan.action == "new" and listing(aside) == before  # whole, without a lock
        assert os.listdir(run) == [lock.LOCK_FILE] and locked_elsewhere(run)
        workdir_lib.remove_run(str(aside), "delete", print_fn=lines.append)
        a_run(run)
        workdir_lib.remove_run(str(run), "delete", print_fn=lines.append)  # in place: held
        assert os.listdir(run) == [lock.LOCK_FILE] and locked_elsewhere(run)
    # Released; the folder the new run got is removed again, as it wrote nothing in it.
    assert not aside.exists() and not run.exists()
    assert lines[0].startswith(f"{run} --noresume: the earlier run: moved to {aside}")


def test_other_workers_of_a_multi_worker_run_share_the_chiefs_workdir(tmp_path, monkeypatch):
    run = tmp_path / "run"
    cluster = {"worker": ["host:1", "host:2"]}
    with other_process_holding(run):  # the chief
        worker = {"cluster": cluster, "task": {"type": "worker", "index": 1}}
        monkeypatch.setenv("TF_CONFIG", json.dumps(worker))
        with workdir_lib.writer(str(run)):  # a worker writes no run files: no lock
            assert not lock.holds(str(run))
        worker["task"]["index"] = 0  # the chief itself
        monkeypatch.setenv("TF_CONFIG", json.dumps(worker))
        with pytest.raises(lock.WorkdirBusy):
            with workdir_lib.writer(str(run)):
                pass


def test_without_flock_the_lock_files_content_decides(tmp_path, monkeypatch):
    monkeypatch.setattr(lock, "fcntl", None)
    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / lock.LOCK_FILE
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    here = socket.gethostname()
    path.write_text(json.dumps({"host": here, "pid": gone.pid}))  # killed: stale
    with lock.hold(str(folder)):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()
    path.write_text(json.dumps({"host": here, "pid": os.getppid()}))  # alive
    with pytest.raises(lock.WorkdirBusy, match=f"pid {os.getppid()} on host {here}"):
        with lock.hold(str(folder)):
            pass
    path.write_text(json.dumps({"host": "elsewhere", "pid": 1}))  # cannot be checked
    with pytest.raises(lock.WorkdirBusy, match=f"if that process is gone, delete {path}"):
        with lock.hold(str(folder)):
            pass


@pytest.mark.parametrize("flock", [True, False])
def test_a_link_folder_or_fifo_in_the_lock_files_place_is_refused_and_nothing_outside_written(
    tmp_path, monkeypatch, flock
):
    if not flock:
        monkeypatch.setattr(lock, "fcntl", None)
    run = a_run(tmp_path / "run")
    outside = tmp_path / "notes.txt"
    outside.write_text("mine")
    (run / lock.LOCK_FILE).symlink_to(outside)
    with pytest.raises(OSError, match=rf"^{run / lock.LOCK_FILE}: is a symbolic link, not a"):
        with lock.hold(str(run)):
            pass
    assert outside.read_text() == "mine" and (run / lock.LOCK_FILE).is_symlink()
    (run / lock.LOCK_FILE).unlink()
    (run / lock.LOCK_FILE).mkdir()
    with pytest.raises(OSError, match=rf"^{run / lock.LOCK_FILE}: is a folder, not a lock"):
        with lock.hold(str(run)):
            pass
    (run / lock.LOCK_FILE).rmdir()
    os.mkfifo(run / lock.LOCK_FILE)
    with pytest.raises(OSError, match=rf"^{run / lock.LOCK_FILE}: is a special file \(a FIFO"):
        with lock.hold(str(run)):
            pass


# --- row 1: reproduce --fresh deletes the reproduction's own runs only ----------------------


def a_reproduction(root):
    """A reproduction's folder: two runs (one moved aside by the runner), its reports."""
    from wsol_tf.reproduction.runs import Run

    run = Run("synthetic_adl_vs_cam", "CAM", 0, {"method": "cam"})
    a_run(root / "runs" / run.dirname)
    a_run(root / "runs" / f"{run.dirname}.replaced-20250101-120000")
    for name in ("results.json", "calls.json", "RESULTS.md"):
        (root / name).write_text("{}")
    return root


def test_fresh_deletes_the_reproductions_runs_and_refuses_anything_else(tmp_path):
    from wsol_tf.reproduction import runs as reproduction

    root = a_reproduction(tmp_path / "repro")
    (root / "runs" / "Jan01_12-00-00_host").mkdir()  # e.g. a TensorBoard log of the user's
    (root / "runs" / "notes.txt").write_text("mine")
    before = listing(root)
    with pytest.raises(workdir_lib.RunMismatch, match=r"Jan01_12-00-00_host, notes\.txt, which"):
        reproduction.clear(str(root))
    assert listing(root) == before  # nothing deleted
    (root / "runs" / "notes.txt").unlink()
    (root / "runs" / "Jan01_12-00-00_host").rmdir()
    before = listing(root)
    mine = next((root / "runs").iterdir())
    with other_process_holding(mine) as holder:
        with pytest.raises(lock.WorkdirBusy, match=f"{mine} is in use by pid {holder.pid}"):
            reproduction.clear(str(root))
    assert [p for p in listing(root) if not p.endswith(lock.LOCK_FILE)] == before
    lines = []
    reproduction.clear(str(root), print_fn=lines.append)
    assert lines == [f"--fresh: deleted 2 earlier runs in {root / 'runs'}"]
    assert listing(root) == ["RESULTS.md"] and os.listdir(root / "runs") == []


def test_a_folder_that_is_no_reproduction_is_refused(tmp_path):
    from wsol_tf.reproduction import runs as reproduction

    project = tmp_path / "project"
    (project / "runs" / "exp1").mkdir(parents=True)
    (project / "train.py").write_text("print('mine')")
    with pytest.raises(
        workdir_lib.RunMismatch, match=r"--workdir=.*project is not a reprod.*train\.py"
    ):
        reproduction.clear(str(project))
    assert listing(project) == ["train.py"] and (project / "runs" / "exp1").is_dir()
    # A new folder may hold the report of --results_md=<workdir>/REPORT.md, nothing else.
    new = tmp_path / "new"
    new.mkdir()
    (new / "REPORT.md").write_text("# the report")
    reproduction.check_reproduction_folder(str(new), outputs=[str(new / "REPORT.md")])
    with pytest.raises(workdir_lib.RunMismatch, match=r"it holds REPORT\.md"):
        reproduction.check_reproduction_folder(str(new))
    reproduction.check_reproduction_folder(str(tmp_path / "missing"))
    # An earlier reproduction's folder may hold the user's files (a log sent there): they
    # are not refused, and --fresh deletes its runs and leaves them.
    repro = a_reproduction(tmp_path / "repro")
    (repro / "log.txt").write_text("mine")
    reproduction.check_reproduction_folder(str(repro))
    reproduction.clear(str(repro), print_fn=lambda _: None)
    assert (repro / "log.txt").read_text() == "mine" and os.listdir(repro / "runs") == []


def test_reproduce_refuses_a_foreign_or_busy_workdir_in_one_line_before_tensorflow(
    tmp_path, no_tensorflow
):
    project = tmp_path / "project"
    (project / "runs" / "exp1").mkdir(parents=True)
    (project / "train.py").write_text("print('mine')")
    before = listing(project)
    repro = a_reproduction(tmp_path / "repro")
    args = ["wsol_tf.reproduce", "--tables=synthetic_adl_vs_cam", "--epochs=1", "--fresh"]
    refused = {"project": run_cli(*args, f"--workdir={project}", env=no_tensorflow)}
    with other_process_holding(repro) as holder:
        refused["repro"] = run_cli(*args, f"--workdir={repro}", env=no_tensorflow)
        sweep = ["wsol_tf.sweep", "--grid=lr=0.1", f"--out={repro}", "--", "--epochs=1"]
        refused["sweep"] = run_cli(*sweep, env=no_tensorflow)
    expected = {
        "project": f"error: --workdir={project} is not a reproduction's folder: it holds train.py",
        "repro": f"error: --workdir={repro} is in use by pid {holder.pid}",
        "sweep": f"error: --out={repro} is in use by pid {holder.pid}",
    }
    for name, result in refused.items():
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1, (name, result.stderr[-2000:])
        assert lines[0].startswith(expected[name]), (name, lines[0])
    assert listing(project) == before
    assert [p for p in listing(repro) if lock.LOCK_FILE not in p] == listing(
        a_reproduction(tmp_path / "again")
    )
