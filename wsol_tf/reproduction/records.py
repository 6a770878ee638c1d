"""Run records: each finished run of a reproduction as one small committed JSON file, so a long
comparison survives the loss of its --workdir (a fresh clone, an ignored folder).

A record is the run's result (`wsol_tf.reproduction.runs.train_and_evaluate`: the metrics,
the val split's metrics, the read-out, the time fields, config, identity, key / table / row /
seed), written to `<records_dir>/<Run.dirname>.json` (sorted keys, indented), less what only
makes sense beside the workdir or would make it large:

* "reused" (a property of one call, not of the run);
* the paths into the workdir: "pictures" is dropped and every "overlays" (test, the extra
  splits', the read-out's) is None (reports skip an overlay they cannot open); "workdir" and
  "checkpoint" stay as informational strings, never opened;
* the per-threshold lists: "per_threshold" and the fine curve's arrays ("thresholds",
  "gt_known_loc", "top1_loc"; the curve's best_* values stay). What the method report reads
  from them, the test metrics at the CAM threshold chosen on validation
  (`methods_report.val_chosen`), is kept as "val_chosen".

A record is used for a run only when its identity (`runner.identity`: config, data by content,
evaluation options and extra splits) equals the one the run has now, ignoring the config's
"workdir" and "data_dir" (where the run and its data lie on this machine, not what they are:
the data is compared by content), and, for a run with a read-out, when it holds one (a
diverged run or one without a val split has none to hold). A diverged run is recorded too: its
divergence is a result of the comparison.

Library code: explicit arguments, no FLAGS (the CLI is `wsol_tf.reproduce --records_dir`).
"""

from __future__ import annotations

import copy
import json
import os
import re

from wsol_tf.files import read_json, write_atomic

# Config fields that say where a run and its data lie, not what they are.
PLACE_FIELDS = ("workdir", "data_dir")
# Result fields a record leaves out, at every level of metrics (the test split's, each extra
# split's): the call's "reused", the workdir's picture paths, the per-threshold list.
DROPPED = ("reused", "pictures", "per_threshold", "record_file")
# The fine curve's per-threshold arrays (its best_* values are kept).
CURVE_ARRAYS = ("thresholds", "gt_known_loc", "top1_loc")
# A record's file name: Run.dirname + ".json".
RECORD_NAME = re.compile(r"^[a-z0-9-]+-s(\d+)-([0-9a-f]{10})\.json$")


def record_path(records_dir, run) -> str:
    """`<records_dir>/<run.dirname>.json`."""
    return os.path.join(records_dir, f"{run.dirname}.json")


def to_record(run, result) -> dict:
    """The record of `run`'s finished `result` (see the module docstring for what is left
    out); key, table, row and seed are the run's."""
    from wsol_tf.reproduction.methods_report import val_chosen

    record = _light(result)
    if not result.get("diverged") and "val_chosen" not in result:
        try:
            record["val_chosen"] = val_chosen(result)
        except (KeyError, TypeError, ValueError, IndexError):
            pass  # no val split with a fine curve: nothing the method report could read
    if isinstance(result.get("splits"), dict):
        record["splits"] = {split: _light(value) for split, value in result["splits"].items()}
    if isinstance(result.get("readout"), dict):
        record["readout"] = {**result["readout"], "overlays": None}
    record.update(key=run.key, table=run.table, row=run.row, seed=run.seed)
    return record


def _light(metrics):
    """A metrics dict without the workdir's paths and the per-threshold lists."""
    if not isinstance(metrics, dict):
        return metrics
    light = {k: copy.deepcopy(v) for k, v in metrics.items() if k not in DROPPED}
    if "overlays" in light:
        light["overlays"] = None
    if isinstance(light.get("curve"), dict):
        light["curve"] = {k: v for k, v in light["curve"].items() if k not in CURVE_ARRAYS}
    return light


def record_text(record) -> str:
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def write_record(records_dir, run, result) -> str:
    """Writes (atomically) or updates `run`'s record of its finished `result`; returns its path.
    An unchanged record is not rewritten."""
    path = record_path(records_dir, run)
    text = record_text(to_record(run, result))
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return path
    return write_atomic(path, text)


def placeless(value):
    """An identity without the config's PLACE_FIELDS (None for what is no identity)."""
    if not isinstance(value, dict) or not isinstance(value.get("config"), dict):
        return None
    config = {k: v for k, v in value["config"].items() if k not in PLACE_FIELDS}
    return {**value, "config": config}


def wanted_identity(config, extra_splits=(), evaluation=None) -> dict:
    """The identity `runner.finished_result` looks for in a workdir (config, data, evaluation
    options and extra splits)."""
    from wsol_tf.reproduction.runner import identity

    evaluation = dict(evaluation or {})
    if extra_splits:
        evaluation["extra_splits"] = list(extra_splits)
    return identity(config, evaluation)


def candidates(records_dir, run) -> list[str]:
    """Record files that may be `run`'s, most likely first: its own name, another table's
    name for the same settings and seed (the same key), then every other record of the seed
    (its key differs when a setting holds a path, e.g. an absolute --cub_dir)."""
    if not os.path.isdir(records_dir):
        return []
    own = f"{run.dirname}.json"
    names = [own] if os.path.isfile(os.path.join(records_dir, own)) else []
    same_key, same_seed = [], []
    for name in sorted(os.listdir(records_dir)):
        match = RECORD_NAME.match(name)
        if name == own or not match or int(match.group(1)) != run.seed:
            continue
        (same_key if match.group(2) == run.key else same_seed).append(name)
    return [os.path.join(records_dir, name) for name in names + same_key + same_seed]


def find_record(records_dir, run, config, extra_splits=(), evaluation=None) -> dict | None:
    """`run`'s record when one matches (module docstring), else None.

    Args:
        records_dir: the records' folder (a missing one holds none).
        run: the `Run`.
        config: the TrainConfig it would train now (its workdir and data_dir are this
            machine's).
        extra_splits, evaluation: as given to `runner.run_config`; part of the identity.

    Returns:
        The record with "reused": "record", "record_file" (its path), and "workdir" and the
        config's "workdir" / "data_dir" those of `config` (where the run would be trained
        now); None when no record matches. A record that is not JSON raises ValueError
        naming it (a merge conflict is fixed, never trained over).
    """
    wanted = None
    for path in candidates(records_dir, run):
        record = read_json(path, dict)
        if run.readout and not _has_readout(record, config):
            continue
        if wanted is None:
            wanted = placeless(wanted_identity(config, extra_splits, evaluation))
        if placeless(record.get("identity")) != wanted:
            continue
        here = {name: getattr(config, name) for name in PLACE_FIELDS}
        return {
            **record,
            "config": {**(record.get("config") or {}), **here},
            "workdir": config.workdir,
            "reused": "record",
            "record_file": path,
        }
    return None


def _has_readout(record, config):
    """Whether the record holds the read-out a run with one needs (a diverged run or one
    without a val split gets none: `runner.add_readout`)."""
    return bool(record.get("readout")) or bool(record.get("diverged")) or not config.val_per_class
