"""Writing outputs atomically: a temporary file in the same folder, then a rename.

A run killed at any moment leaves either the old file or the new one, never half of one.
"""

import json
import os
import tempfile


def write_atomic(path, data, mode="w"):
    """Writes `data` (str, or bytes with mode "wb") to `path` atomically; returns `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it 0600; give a normal file's mode
        with os.fdopen(fd, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def write_json(path, value, indent=2):
    """`value` as JSON at `path`, atomically."""
    return write_atomic(path, json.dumps(value, indent=indent) + "\n")


def read_json(path):
    """The JSON value at `path`, or None when there is no such file."""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


class NotWritable(OSError):
    """An output location where files cannot be created; the message names it and why."""


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
