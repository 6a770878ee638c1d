"""Helpers shared by the annotation readers: errors that name the file and the line.

Paths named in annotation files (CUB's images.txt, wsol_metadata's image_ids.txt and its mask
paths) stay inside the folder they are relative to (`refuse_paths_outside`): such a file may
come from anyone, and a path leaving the folder would train on, or read, whatever it names.
The folder itself is the user's choice (--data_dir, --image_root ...) and is resolved first,
so a dataset folder, or its images/, may be a link to another disk. A listed path is refused
when it is absolute, when '..' takes it out of the folder, or when a symbolic link inside the
folder leads out of it, unless the user opts in to such links (follow_outside_links,
--follow_outside_links). Folders read by listing them (--dataset=folder, ImageNet's train/
and val/) name no path in a file: their linked class folders are followed as before.
"""

import math
import os


def require_file(path, what):
    """Raises FileNotFoundError naming `what` (e.g. "ImageNet mapping") unless `path` is a file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: missing file {path}.")
    return path


def numbered_lines(path):
    """Yields (line_number, stripped line) of a text file, skipping blank lines and a leading
    UTF-8 byte order mark."""
    with open(path, encoding="utf-8-sig") as f:
        for line_number, line in enumerate(f, start=1):
            line = line.strip()
            if line:
                yield line_number, line


def line_error(path, line_number, line, why):
    """A ValueError of the form `<file>:<line>: <why>: '<line text>'`."""
    return ValueError(f"{path}:{line_number}: {why}: {line!r}")


# Boxes are stored as float32 (`records.pad_boxes`): a larger number there is inf.
FLOAT32_MAX = 3.4028234663852886e38


def finite_in_float32(values):
    """Whether every value is a finite number that stays finite as float32."""
    return all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in values)


def parse_box(values, path, line_number, line):
    """Four numbers `x0, y0, x1, y1` (pixels) as floats; refuses non-numbers and x1 < x0."""
    try:
        box = [float(v) for v in values]
    except ValueError:
        raise line_error(path, line_number, line, "box coordinates must be numbers") from None
    if len(box) != 4 or not finite_in_float32(box):
        raise line_error(path, line_number, line, "a box needs 4 finite numbers x0,y0,x1,y1")
    if box[2] < box[0] or box[3] < box[1]:
        raise line_error(path, line_number, line, "box has x1 < x0 or y1 < y0")
    return box


def check_files_exist(paths, describe):
    """Raises FileNotFoundError for the first missing image, named by `describe(i)`."""
    for i, path in enumerate(paths):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{describe(i)}: no image file {path}.")


def box_problem(box, width, height):
    """Why a GT box (x0, y0, x1, y1, original pixels) is suspect in a `width` x `height`
    image, or None: "empty" (x1 <= x0 or y1 <= y0), "outside the image" (all of it), or
    "past the left/top/right/bottom edge" (part of it; x1 == width is the edge itself)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return "not finite"
    if x1 <= x0 or y1 <= y0:
        return "empty"
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        return "outside the image"
    edges = [name for name, past in (("left", x0 < 0), ("top", y0 < 0), ("right", x1 > width),
                                      ("bottom", y1 > height)) if past]  # fmt: skip
    return f"past the {'/'.join(edges)} edge" if edges else None


def _leaves_by_name(name, folder):
    """Why the text of a listed path leads out of `folder` (None: not known yet), or None."""
    if "\0" in name:  # no file name holds one (and os.path functions raise on it)
        return "holds a NUL character"
    if os.path.isabs(name):
        return (
            f"is absolute (listed paths are relative to {folder or 'a folder'} and stay inside it)"
        )
    if ".." in name and os.path.normpath(name).split(os.sep)[0] == os.pardir:
        return f"leaves {folder or 'the folder it is relative to'} ('..')"
    return None


class _RealPaths:
    """Where listed paths lead once links are resolved, with one `realpath` and one listing
    per folder, not a system call per file: a split may list a million images."""

    def __init__(self):
        self._folders = {}  # folder -> (its real path, names of the links in it)

    def __call__(self, path):
        folder, name = os.path.split(path)
        if folder not in self._folders:
            self._folders[folder] = (os.path.realpath(folder), _links_in(folder))
        real_folder, links = self._folders[folder]
        return os.path.realpath(path) if name in links else f"{real_folder}{os.sep}{name}"


def _links_in(folder):
    try:
        with os.scandir(folder) as entries:
            return {entry.name for entry in entries if entry.is_symlink()}
    except OSError:  # no such folder: its files are reported missing later
        return set()


def refuse_paths_outside(root, entries, follow_outside_links=False, what="path"):
    """Raises ValueError for the first listed path that leads out of `root` (rule in the module
    doc), naming its file and line and counting the others.

    Args:
        root: the folder the paths are relative to; None checks only what needs no folder
            (absolute paths, '..'), e.g. before the folder is known.
        entries: (annotation file, line number, listed path) triples.
        follow_outside_links: let symbolic links inside `root` lead out of it.
        what: what the paths are, for the message ("image path", "mask path").
    """
    real_root = None if root is None else os.path.realpath(root)
    inside = None if root is None else os.path.join(real_root, "")  # "<real root>/"
    real_path = _RealPaths()
    found = []
    for file, line_number, name in entries:
        why = _leaves_by_name(name, root)
        if why is None and real_root is not None and not follow_outside_links:
            target = real_path(os.path.join(root, name))
            if not (target.startswith(inside) or target == real_root):
                why = (f"leads out of {root} through a symbolic link (to {target}); "
                       "--follow_outside_links (a flag of train and data check) reads "
                       "such links")  # fmt: skip
        if why:
            found.append((file, line_number, name, why))
    if found:
        file, line_number, name, why = found[0]
        others = len(found) - 1
        more = f" (and {others} more such line{'s' * (others > 1)})" if others else ""
        raise ValueError(f"{file}:{line_number}: {what} {name!r} {why}{more}.")
