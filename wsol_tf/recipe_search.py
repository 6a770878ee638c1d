"""A fine-tuning recipe searched on validation, stage by stage (issue 27).

    python -m wsol_tf.recipe_search --data_dir=../shared/data/CUB_200_2011_25cls \\
        --out=workdirs/recipe_25cls [--experiment=recipe_search_cub]

The experiment module names the starting settings (`START`), the stages (`STAGES`: each a
list of overrides, or a function of the best settings so far giving one), the validation
evaluation (`EVALUATION`, split "val": the split carved from the training images) and the
metrics that choose (`SELECTION`, compared in order). Each stage trains its trials on top of
the best settings so far and keeps the best; the incumbent is a trial of every stage (reused,
not retrained) and wins ties. Runs live in <out>/<name>; a finished run is reused, so a
stopped search continues where it stopped. Every trial, diverged and losing ones included,
goes to <out>/search.json and <out>/search.md after each run. The test split is never read.
"""

import dataclasses
import importlib
import json
import os
import sys
import time

from absl import flags

from wsol_tf import cli
from wsol_tf.files import check_writable, write_atomic

FLAGS = flags.FLAGS


def define_flags():
    """Defined only when run as a program: `train`'s flags have some of the same names."""
    flags.DEFINE_string("experiment", "recipe_search_cub", "Module of wsol_tf.experiments.")
    flags.DEFINE_string("dataset", "cub", "Dataset of every run.")
    flags.DEFINE_string("data_dir", None, "Dataset folder (required for cub).")
    flags.DEFINE_string("out", "workdirs/recipe_search", "Folder of the runs and the table.")
    flags.DEFINE_integer("seed", 0, "Seed of every trial.")


COLUMNS = ("top1_clas", "gt_known_loc", "top1_loc", "maxboxacc_v2")


def run_name(settings, start, defaults=None):
    """A folder name from what differs from the start ("start" for the start itself); a
    setting left out has its default."""
    defaults = defaults or {}
    parts = []
    for key in sorted(set(settings) | set(start)):
        value = settings.get(key, defaults.get(key))
        if value != start.get(key, defaults.get(key)):
            if isinstance(value, tuple | list):
                value = "x".join(map(str, value))
            parts.append(f"{key}-{value}")
    return "_".join(parts).replace("/", "-") or "start"


def score(row, selection):
    """The comparable score of a finished row (None when it diverged or failed)."""
    if row.get("status") != "ok":
        return None
    return tuple(row[name] for name in selection)


def pick(rows, selection):
    """Index of the best row (the first of equals: the incumbent, listed first)."""
    best = None
    for index, row in enumerate(rows):
        value = score(row, selection)
        if value is not None and (best is None or value > best[1]):
            best = (index, value)
    return None if best is None else best[0]


def stage_trials(trials, best):
    return list(trials(best) if callable(trials) else trials)


def without_defaults(settings, defaults):
    """`settings` less the values equal to their defaults: two spellings of one run (a value
    given at its default, or left out) become the same trial."""
    return {k: v for k, v in settings.items() if k not in defaults or v != defaults[k]}


def search(experiment, run_trial, write, print_fn=print, defaults=None):
    """Runs the stages; `run_trial(settings)` -> row dict (status, metrics, seconds);
    `write(stages)` saves the table; `defaults` {setting: default value} (a setting at its
    default is the same trial as one without it). Returns (best settings, stages)."""
    defaults = defaults or {}
    best = without_defaults(experiment.START, defaults)
    stages = []
    for name, trials in experiment.STAGES:
        candidates = [best]
        for override in stage_trials(trials, best):
            settings = without_defaults({**best, **override}, defaults)
            if settings not in candidates:
                candidates.append(settings)
        stage = {"stage": name, "rows": []}
        stages.append(stage)
        for settings in candidates:
            row = run_trial(settings)
            stage["rows"].append(row)
            write(stages)
        chosen = pick(stage["rows"], experiment.SELECTION)
        if chosen is None:
            first = stage["rows"][0]
            raise RuntimeError(
                f"stage {name!r}: no trial finished (first: {first['run']}: {first['status']})"
            )
        stage["chosen"] = stage["rows"][chosen]["run"]
        best = candidates[chosen]
        print_fn(f"stage {name!r}: kept {stage['chosen']}")
        write(stages)
    return best, stages


def markdown(stages, experiment, command):
    lines = [
        "# Recipe search on validation",
        "",
        f"Command: `{command}`",
        "",
        f"Chosen by validation {', then '.join(experiment.SELECTION)}; one seed; the first "
        "row of each stage is the incumbent. Never evaluated on test.",
        "",
        "| stage | run | " + " | ".join(COLUMNS) + " | train s | status | kept |",
        "|---|---|" + "---|" * len(COLUMNS) + "---|---|---|",
    ]
    for stage in stages:
        for row in stage["rows"]:
            cells = [f"{row[c]:.2f}" if row.get(c) is not None else "" for c in COLUMNS]
            kept = "**kept**" if stage.get("chosen") == row["run"] else ""
            seconds = f"{row.get('train_seconds') or 0:.0f}"
            lines.append(
                f"| {stage['stage']} | {row['run']} | " + " | ".join(cells)
                + f" | {seconds} | {row['status']} | {kept} |"
            )  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
        return 2
    try:
        experiment = importlib.import_module(f"wsol_tf.experiments.{FLAGS.experiment}")
    except ImportError:
        print(f"error: --experiment={FLAGS.experiment}: no such module", file=sys.stderr)
        return 2
    from wsol_tf.runs.config import TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)
                if f.default is not dataclasses.MISSING}  # fmt: skip
    start = without_defaults(experiment.START, defaults)
    base = {"dataset": FLAGS.dataset, "data_dir": FLAGS.data_dir, "seed": FLAGS.seed}
    try:
        first = TrainConfig.from_settings(**{**start, **base, "workdir": FLAGS.out}).validate()
        from wsol_tf.data.datasets import load_split

        load_split(first.dataset, first.data_dir, "train", **first.split_options())  # the data
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    check_writable(FLAGS.out, "--out")
    command = " ".join(["python -m wsol_tf.recipe_search", *sys.argv[1:]])
    from wsol_tf.errors import error_text
    from wsol_tf.reproduction.runner import run_config
    from wsol_tf.training import lock

    def run_trial(settings):
        name = run_name(settings, start, defaults)
        row = {"run": name, "settings": settings, "status": "ok"}
        began = time.perf_counter()
        try:
            workdir = os.path.join(FLAGS.out, name)
            config = TrainConfig.from_settings(**{**settings, **base, "workdir": workdir})
            config.validate()
            result = run_config(
                config,
                evaluation=experiment.EVALUATION,
                on_divergence="record",
                print_fn=print,
                train_print_fn=lambda *_: None,
            )
        except (ValueError, OSError) as error:
            return {**row, "status": f"failed: {error_text(error)}"}
        if result.get("diverged"):
            row["status"] = "diverged"
        row.update({c: result.get(c) for c in COLUMNS})
        row["train_seconds"] = result.get("train_seconds")
        row["reused"] = result.get("reused", False)
        summary = " ".join(f"{c} {row[c]:.2f}" for c in COLUMNS if row.get(c) is not None)
        print(f"{name}: {row['status']} {summary} ({time.perf_counter() - began:.0f} s)")
        return row

    def write(stages):
        payload = {"command": command, "selection": list(experiment.SELECTION),
                   "stages": stages}  # fmt: skip
        write_atomic(os.path.join(FLAGS.out, "search.json"),
                     json.dumps(payload, indent=1, default=list) + "\n")  # fmt: skip
        write_atomic(os.path.join(FLAGS.out, "search.md"), markdown(stages, experiment, command))

    with lock.hold(FLAGS.out, "--out"):
        best, _ = search(experiment, run_trial, write, defaults=defaults)
    print("best: " + json.dumps(best, default=list))
    return 0


if __name__ == "__main__":
    define_flags()
    cli.run(main)
