"""One writer per folder: a process that writes a run (or a reproduction, a sweep) holds its
folder's lock, and a second process is refused, naming the holder.

The lock is `fcntl.flock` on `<folder>/.wsol_tf.lock`. The kernel releases it when its
process ends, however it ends (SIGKILL, the OOM killer, a lost session), so a dead holder
never blocks the next run and no process id has to be checked: a pid check goes wrong after
pid reuse and between containers that share a volume (other pid namespaces), where flock
still works. On NFS, Linux emulates flock with byte-range locks that the server arbitrates
across hosts. The file's content (host, pid, start, command) only names the holder in the
refusal. Where flock is unavailable (no `fcntl`, a file system that refuses it) the content
decides instead: the file is created exclusively, and one naming a process of this host
that is gone is stale.

The lock file is hidden, so a run's folder listing (`wsol_tf.training.workdir`) ignores it;
it is removed when the lock is released. `hold` is re-entrant within a process (the
reproduction runner holds a run's folder around `train`, which holds it again), and `move`
renames a held folder and takes the lock again at the old path, so the run that goes on
there never runs unlocked.

Library code, no TensorFlow: a busy folder is refused in a second.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import socket
import stat
import sys
import time

from wsol_tf.files import process_alive

try:
    import fcntl
except ImportError:  # not on every platform: the lock file's content decides there
    fcntl = None

LOCK_FILE = ".wsol_tf.lock"
# The lock file is opened without following a link: a link planted there must not make the
# lock write (truncate, then fill) a file outside the run.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# flock errors that mean "not supported here" rather than "held by another process".
_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


class WorkdirBusy(OSError):
    """Another live process holds the folder's lock; nothing was changed."""


@dataclasses.dataclass
class _Held:
    fd: int  # -1 once the folder it locked has been moved away
    created: str | None = None  # the topmost folder this lock created (removed when empty)


_held: dict[str, _Held] = {}  # realpath of the folder -> its lock, in this process


def lock_path(folder) -> str:
    return os.path.join(folder, LOCK_FILE)


def holds(folder) -> bool:
    """Whether this process holds `folder`'s lock."""
    return os.path.realpath(folder) in _held


@contextlib.contextmanager
def hold(folder, what="--workdir"):
    """Holds `folder`'s lock for the block (creating the folder when missing); raises
    `WorkdirBusy` naming the holder when another live process has it.

    Released on exit, exceptions included; a folder the lock created is removed again when
    nothing was written in it. `what` names the folder in messages (a flag, or None).
    """
    key = os.path.realpath(folder)
    if key in _held:  # held further out in this process, which releases it
        yield
        return
    _held[key] = _acquire(folder, what)
    try:
        yield
    finally:
        _release(folder, _held.pop(key))


def move(folder, target, what="--workdir"):
    """Renames `folder` to `target` under its lock (`WorkdirBusy` when another process holds
    it). When this process held it before, the lock is taken again on a new, empty `folder`,
    so the run that goes on there stays locked; `WorkdirBusy` then means another process
    took the path meanwhile (the moved folder is kept whole either way)."""
    key = os.path.realpath(folder)
    outer = key in _held
    with hold(folder, what):
        held = _held[key]
        os.replace(folder, target)
        _forget(target, held.fd)  # the old lock file went along: it locks nothing now
        held.fd = -1
        if outer:
            fresh = _acquire(folder, what)
            held.fd, held.created = fresh.fd, held.created or fresh.created
        else:
            held.created = None  # the folder it may have created went to `target`
    return target


def holder(folder) -> str | None:
    """Who holds `folder`'s lock ("pid 12 on host h, ..."), or None when no live process
    does. Creates nothing."""
    path = lock_path(folder)
    if holds(folder) or not os.path.isfile(path):
        return None
    if fcntl is not None:
        fd = os.open(path, os.O_RDONLY)
        try:
            state = _try_flock(fd)
        finally:
            os.close(fd)  # closing drops a lock this probe took
        if state is not None:
            return None if state else _describe(_read(path))
    info = _read(path)
    return None if _stale(info) else _describe(info)


def _acquire(folder, what) -> _Held:
    created = _make_folder(folder)
    path = lock_path(folder)
    try:
        fd = _flock_file(path)
        by_content = fd is None
        if by_content:
            fd = _exclusive_file(path)
        if fd < 0:
            raise _busy(folder, what, path, by_content)
    except BaseException:
        _remove_empty(folder, created)
        raise
    os.ftruncate(fd, 0)
    # Written in place, not atomically: the lock is this inode; a reader of half a line only
    # names the holder less well.
    os.write(fd, json.dumps(_me()).encode())
    return _Held(fd, created=created)


def _flock_file(path):
    """The fd of `path`, flock-ed by this process; -1 when another process holds it; None when
    flock cannot be used here."""
    if fcntl is None:
        return None
    for _ in range(20):
        fd = _open(path, os.O_RDWR | os.O_CREAT)
        state = _try_flock(fd)
        if state is not True:
            os.close(fd)
            return -1 if state is False else None
        # The holder before us may have removed or renamed the file we opened: the lock is
        # ours only if the path still names the file we locked.
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    return -1


def _open(path, flags):
    """`os.open` of the lock file; OSError in one line for a link, a folder or anything else
    but a plain file in its place (the lock never writes through it, nor waits on a FIFO)."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0), 0o644)
    except OSError:  # FileExistsError included: a FIFO there is no stale lock file either
        _refuse_unless_plain(path)
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        _refuse_unless_plain(path)
    return fd


def _refuse_unless_plain(path):
    """OSError (one line) when `path` is there but is not a plain file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    what = ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a special file (a FIFO, a device)")  # fmt: skip
    raise OSError(
        f"{path}: is {what}, not a lock file; nothing was changed: remove it and run again."
    )


def _try_flock(fd):
    """True: locked; False: held by another process; None: flock unsupported here."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        if error.errno in _UNSUPPORTED:
            return None
        raise
    return True


def _exclusive_file(path):
    """Without flock: the lock file created exclusively (fd), replacing a stale one; -1 when
    a live process (or one on another host, which cannot be checked) names it."""
    for _ in range(2):
        try:
            return _open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            if not _stale(_read(path)):
                return -1
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    return -1


def _stale(info) -> bool:
    """Whether a lock file's holder is gone: a process of this host that no longer runs (an
    unreadable file, or another host's, is taken as live)."""
    if not info or info.get("host") != socket.gethostname() or os.name == "nt":
        return False  # (on Windows os.kill(pid, 0) would send the process a Ctrl-C)
    try:
        pid = int(info["pid"])
    except (KeyError, TypeError, ValueError):
        return False
    return not process_alive(pid)


def _release(folder, held):
    if held.fd >= 0:
        _forget(folder, held.fd)  # removed before the unlock: never a file left unlocked
    _remove_empty(folder, held.created)


def _forget(folder, fd):
    """Removes the lock file in `folder` if it is the one `fd` holds, then closes `fd`."""
    path = lock_path(folder)
    try:
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            os.remove(path)
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)


def _make_folder(folder):
    """Creates `folder` and its missing parents; returns the topmost one created (None when
    `folder` existed)."""
    top, probe = None, os.path.abspath(folder)
    while not os.path.exists(probe):
        top, parent = probe, os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    os.makedirs(folder, exist_ok=True)
    return top


def _remove_empty(folder, created):
    """Removes the folders this lock created (`folder` up to `created`) while they are
    empty: a refused run leaves no trace."""
    if created is None:
        return
    path = os.path.abspath(folder)
    while True:
        try:
            os.rmdir(path)
        except OSError:
            return
        if path == created or os.path.dirname(path) == path:
            return
        path = os.path.dirname(path)


def _me():
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(sys.argv)[:300],
    }


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _describe(info) -> str:
    if not info:
        return "another process"
    text = f"pid {info.get('pid')} on host {info.get('host')}"
    if info.get("started"):
        text += f", since {info['started']}"
    if info.get("command"):
        text += f" ({info['command']})"
    return text


def _busy(folder, what, path, by_content):
    info = _read(path)
    name = f"{what}={folder}" if what else str(folder)
    # Without flock the file may outlive its process unnoticed (another host, no pid check):
    # the user can tell.
    hint = f"; if that process is gone, delete {path}" if by_content else ""
    return WorkdirBusy(
        f"{name} is in use by {_describe(info)}: one process writes it at a time. Nothing was "
        f"changed: wait for that process to end or give another folder{hint}."
    )
