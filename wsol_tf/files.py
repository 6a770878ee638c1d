"""Writing outputs atomically: a temporary file (or folder) beside the output, then a rename.

A run killed at any moment leaves either the old output or the new one, never half of one. A
write that fails removes its temporary; a full disk is reported naming the output
(`DiskFull`, one line through `wsol_tf.cli`).
"""

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import sys
import tempfile

# The C library's words for a full disk; TensorFlow's errors carry only these.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(OSError):
    """A write failed because the disk (or the user's quota) is full; the message names the
    file or folder being written."""


def is_disk_full(error):
    """Whether `error` (an OSError, or TensorFlow's error text) says the disk is full."""
    if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
        return True
    text = str(error)
    return any(os.strerror(code) in text for code in DISK_FULL_ERRNOS)


@contextlib.contextmanager
def naming_a_full_disk(path):
    """Turns a full-disk error raised inside the block into `DiskFull` naming `path` (the C
    library's error names no file, TensorFlow's a temporary one)."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as error:
        if not is_disk_full(error):
            raise
        code = error.errno if getattr(error, "errno", None) in DISK_FULL_ERRNOS else errno.ENOSPC
        raise DiskFull(
            f"{path}: cannot write it, the disk is full ({os.strerror(code)}); nothing "
            "half-written was left. Free some space and run again."
        ) from error


def write_atomic(path, data, mode="w"):
    """Writes `data` (str, or bytes with mode "wb") to `path` atomically; returns `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    with naming_a_full_disk(path):
        os.makedirs(folder, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
        try:
            with os.fdopen(fd, mode) as f:
                os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp makes it 0600
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)  # a full disk must not stay full of our partial file
            raise
    return path


def write_json(path, value, indent=2):
    """`value` as JSON at `path`, atomically."""
    return write_atomic(path, json.dumps(value, indent=indent) + "\n")


def read_json(path, kind=None):
    """The JSON value at `path`, or None when there is no such file; ValueError naming the
    file when it is not JSON, or not of `kind` (dict or list) when one is given."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        what = "empty file" if os.path.getsize(path) == 0 else f"not valid JSON: {error}"
        raise ValueError(f"{path}: cannot be read ({what}).") from None
    if kind is not None and not isinstance(value, kind):
        expected = "a JSON object" if kind is dict else f"a JSON {kind.__name__}"
        raise ValueError(
            f"{path}: cannot be read (expected {expected}, found {_json_kind(value)})."
        )
    return value


def _json_kind(value):
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    return "null" if value is None else names.get(type(value), "a number")


class NotWritable(OSError):
    """An output location where files cannot be created; the message names it and why."""


def listing(names, most=5) -> str:
    """Names for a message: the first `most`, then how many more ("a, b, ... (3 more)")."""
    names = list(names)
    extra = len(names) - most
    return ", ".join(names[:most]) + (f", ... ({extra} more)" if extra > 0 else "")


def check_writable(path, what=None):
    """Raises `NotWritable` unless files can be created in the folder `path`, creating nothing.

    A folder that does not exist yet is checked through its nearest existing parent (which
    must be a folder): a command can refuse before it starts its work, and leave no trace.

    Args:
        path: the output folder.
        what: how to name it in the message (e.g. "--workdir"); default the path alone.

    Returns:
        `path`.
    """
    name = f"{what}={path}" if what else str(path)
    probe = os.path.abspath(path)
    while not os.path.lexists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        where = "it" if probe == os.path.abspath(path) else probe
        raise NotWritable(f"{name}: cannot write there: {where} is a file, not a folder.")
    try:
        fd, temporary = tempfile.mkstemp(prefix=".wsol_tf_write_check.", dir=probe)
        os.close(fd)
        os.remove(temporary)
    except OSError as error:
        reason = error.strerror or str(error)
        raise NotWritable(f"{name}: cannot write in {probe} ({reason}).") from None
    return path


def check_pattern_free(path, what):
    """Raises ValueError naming `what` (e.g. "--workdir") when `path` holds '[' or '\\'.

    TensorFlow finds a checkpoint's files (and a SavedModel's variables) by a file pattern made
    of their path, where '[...]' is a set of characters and '\\' an escape: saved under such a
    path, they are written fine but never found again (resume, evaluate, load)."""
    found = [c for c in ("[", "\\") if c in str(path)]
    if found:
        raise ValueError(
            f"{what}={path}: holds '{found[0]}', which TensorFlow reads as a file pattern: its "
            "checkpoints could be written there but never read back; choose a path without "
            "'[' and '\\'."
        )
    return path


def _umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


# --- whole folders (a SavedModel, best/) ------------------------------------------------------

# `.<name>.new-<pid>-<8 chars>`: the folder being written; `.<name>.old-...`: the earlier one,
# moved aside where the filesystem cannot swap two folders in one step.
_TEMPORARY_FOLDER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>new|old)-(?P<pid>\d+)-[a-z0-9_]{8}$")


def write_folder_atomic(path, write):
    """Writes the folder `path` whole: `write(folder)` fills a new hidden folder beside it,
    which then takes `path`'s place in one step (Linux swaps the two; elsewhere two renames).

    The earlier folder stays whole until the new one is complete. A kill leaves the old folder
    or the new one, and a hidden temporary that the next write to `path` removes; a failure
    (a full disk: `DiskFull` naming `path`) removes it at once. Returns `path`.
    """
    target = os.path.realpath(path)  # a link to a folder: the folder it names is replaced
    parent, name = os.path.split(target)
    if os.path.exists(target) and not os.path.isdir(target):
        raise NotADirectoryError(f"{path}: is a file, not a folder; nothing was written.")
    with naming_a_full_disk(path):
        os.makedirs(parent, exist_ok=True)
        remove_dead_temporaries(target)
        temporary = tempfile.mkdtemp(prefix=f".{name}.new-{os.getpid()}-", dir=parent)
        try:
            write(temporary)
            os.chmod(temporary, 0o777 & ~_umask())  # mkdtemp makes it 0700
            _sync_tree(temporary)
            _swap_in(temporary, target)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
    return path


def remove_dead_temporaries(path):
    """Removes the hidden temporaries of `write_folder_atomic(path)` calls whose process died
    (a live writer's are left alone); where a kill came between the two renames of a
    filesystem without an exchange, the earlier folder is put back first. Returns the names
    removed."""
    target = os.path.realpath(path)
    parent, name = os.path.split(target)
    if not os.path.isdir(parent):
        return []
    dead = []
    for entry in sorted(os.listdir(parent)):
        match = _TEMPORARY_FOLDER.match(entry)
        if match and match["name"] == name and not _alive(int(match["pid"])):
            dead.append((match["kind"], os.path.join(parent, entry)))
    earlier = [folder for kind, folder in dead if kind == "old"]
    if earlier and not os.path.lexists(target):
        os.rename(earlier[0], target)
        dead = [(kind, folder) for kind, folder in dead if folder != earlier[0]]
    for _, folder in dead:
        shutil.rmtree(folder, ignore_errors=True)
    return [os.path.basename(folder) for _, folder in dead]


def _alive(pid):
    if pid == os.getpid():
        return False  # this process removes its own temporaries when a write fails
    return process_alive(pid)


def process_alive(pid) -> bool:
    """Whether process `pid` of this host runs (another user's counts; a pid no process can
    have, taken as live: only a known-dead process is ever cleaned up after)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _swap_in(new, target):
    """Puts folder `new` (same parent) at `target` and removes what was there."""
    parent, name = os.path.split(target)
    if not os.path.lexists(target):
        os.rename(new, target)
    elif _exchange(new, target):
        shutil.rmtree(new)  # now the earlier folder
    else:
        suffix = os.path.basename(new)[len(f".{name}.new-") :]
        aside = os.path.join(parent, f".{name}.old-{suffix}")
        os.rename(target, aside)
        try:
            os.rename(new, target)
        except BaseException:
            os.rename(aside, target)
            raise
        shutil.rmtree(aside)
    _sync(parent)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first, second):
    """Swaps two paths in one step (Linux's renameat2 with RENAME_EXCHANGE); False where the
    C library, kernel or filesystem cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]  # fmt: skip
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                 _RENAME_EXCHANGE) == 0:  # fmt: skip
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), second)


def _sync_tree(folder):
    """Flushes every file and folder under `folder` to disk (a power cut after the swap must
    not leave the new folder empty)."""
    for root, _, files in os.walk(folder):
        for name in files:
            _sync(os.path.join(root, name))
        _sync(root)


def _sync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
