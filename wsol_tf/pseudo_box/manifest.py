"""`pseudo_box.json`: what makes a pseudo-box folder a `--workdir` of `localize` and `export`.

It names the WSOL run whose classifier gives the classes (its workdir and checkpoint) and the
regressor's weights (a checkpoint prefix relative to the folder), with what rebuilds the
regressor (backbone, input size). Read without TensorFlow, so a command names a missing or
damaged file before TensorFlow loads.
"""

from __future__ import annotations

import os

from wsol_tf.files import read_json, write_json

MANIFEST_FILE = "pseudo_box.json"
KIND = "pseudo_box"
REQUIRED = ("kind", "wsol_run", "wsol_checkpoint", "regressor", "model", "image_size")


def is_pseudo_box_dir(folder) -> bool:
    """True when `folder` holds a `pseudo_box.json` (a pseudo-box localizer's folder)."""
    return bool(folder) and os.path.isfile(os.path.join(folder, MANIFEST_FILE))


def write_manifest(folder, manifest):
    """Writes `<folder>/pseudo_box.json` atomically; returns its path."""
    return write_json(os.path.join(folder, MANIFEST_FILE), {"kind": KIND, **manifest})


def read_manifest(folder) -> dict:
    """The manifest with its paths resolved: `wsol_run` (folder), `wsol_checkpoint` and
    `regressor` (checkpoint prefixes), each checked to exist.

    Raises:
        FileNotFoundError or ValueError naming the file that is missing or cannot be read.
    """
    path = os.path.join(folder, MANIFEST_FILE)
    manifest = read_json(path, dict)
    if manifest is None:
        raise FileNotFoundError(f"--workdir={folder}: no {MANIFEST_FILE} (not a pseudo-box folder)")
    missing = [key for key in REQUIRED if key not in manifest]
    if missing or manifest.get("kind") != KIND:
        what = f"no {missing[0]!r}" if missing else f"kind {manifest.get('kind')!r}"
        raise ValueError(f"{path}: cannot be read ({what}; expected a pseudo-box manifest).")
    resolved = dict(manifest)
    run = manifest["wsol_run"]
    resolved["wsol_run"] = run if os.path.isabs(run) else os.path.join(folder, run)
    if not os.path.isfile(os.path.join(resolved["wsol_run"], "config.json")):
        raise FileNotFoundError(
            f"{path}: the WSOL run {resolved['wsol_run']} it names for the classes has no "
            "config.json (moved or removed?)"
        )
    checkpoint = manifest["wsol_checkpoint"]
    if not os.path.isabs(checkpoint):
        checkpoint = os.path.join(resolved["wsol_run"], "checkpoints", checkpoint)
    resolved["wsol_checkpoint"] = checkpoint
    regressor = os.path.join(folder, manifest["regressor"])
    resolved["regressor"] = regressor
    for prefix, what in ((checkpoint, "the WSOL run's checkpoint"), (regressor, "the regressor")):
        if not os.path.isfile(prefix + ".index"):
            raise FileNotFoundError(f"{path}: {what} {prefix} has no file {prefix}.index")
    return resolved


def refuse_cam_options(folder, given):
    """ValueError when CAM options (`given`: flag names such as "--cam") are passed with a
    pseudo-box folder as --workdir: its regressor draws the box, its manifest names the run."""
    if given:
        raise ValueError(
            f"--workdir={folder} is a pseudo-box localizer ({MANIFEST_FILE}): its regressor "
            f"draws the box, so {', '.join(given)} do not apply (the WSOL run and checkpoint "
            f"giving the classes are named in {MANIFEST_FILE})."
        )
