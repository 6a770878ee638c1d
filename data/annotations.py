"""Helpers shared by the annotation readers: errors that name the file and the line."""

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


def parse_box(values, path, line_number, line):
    """Four numbers `x0, y0, x1, y1` (pixels) as floats; refuses non-numbers and x1 < x0."""
    try:
        box = [float(v) for v in values]
    except ValueError:
        raise line_error(path, line_number, line, "box coordinates must be numbers") from None
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
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
