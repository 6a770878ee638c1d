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
