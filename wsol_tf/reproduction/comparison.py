"""A fair comparison of methods, wsolevaluation's protocol, as two phases of runs.

1. Selection: every trial of every row (the same number of trials per row), seed 0, on the
   first data setting, with a validation split carved from the training images
   (`val_per_class`); each row keeps the trial with the best validation metric.
2. Final: each row's chosen trial on every data setting and seed (the selection run of seed
   0 on the first setting is reused: same settings, trained once).

An experiment module builds one `Comparison` (its rows, trials, data settings and base
recipe) and `make reproduce` runs it (`wsol_tf.reproduce`); the report section is
`wsol_tf.reproduction.methods_report`. Nothing here reads the test split to choose anything.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from wsol_tf.reproduction.runs import METRICS, Run


@dataclasses.dataclass(frozen=True)
class Target:
    """A comparison's success criterion, stated by its experiment and checked by the report
    (after the fact: nothing is chosen with it).

    Attributes:
        row: the row that should win (e.g. "ADL").
        over: the row it is compared with (e.g. "CAM").
        metric: the metric of the comparison (a key of the val-chosen metrics).
        margin: `row` - `over`, mean over seeds paired by seed, must be >= this.
        above_centered_box: both rows' GT-known Loc must also beat the centered box whose
            size was chosen on validation.
        source: where the target comes from (e.g. "issue #12").
    """

    row: str
    over: str
    metric: str = "maxboxacc_v2"
    margin: float = 0.0
    above_centered_box: bool = False
    source: str = ""


@dataclasses.dataclass
class Comparison:
    """Rows x trials x data settings x seeds of one method comparison.

    Attributes:
        name: the table's name (`--tables=<name>`); selection runs are `<name>_selection`.
        trials: {row label: (method name, [trial settings])}; every row the same count.
        data_settings: {setting label: synthetic generator parameters} (first: the one
            hyperparameters are chosen on); `{}` means the table's own dataset.
        base: settings shared by every run (recipe, `val_per_class` > 0).
        seeds: seeds of the final runs.
        selection_metric: the validation metric that picks a row's trial.
        target: an optional `Target` the report says is met or missed, per data setting.
        readout: every run also chooses its read-out (extractor and threshold) on val and is
            evaluated on test at it (`runner.add_readout`); the report adds those rows.
    """

    name: str
    trials: dict
    data_settings: dict
    base: dict
    seeds: tuple = (0, 1, 2)
    selection_metric: str = "maxboxacc_v2"
    data_fn: Callable | None = None  # (setting params, cache_dir) -> dataset/data_dir
    target: Target | None = None
    readout: bool = False  # each run also reports test at the read-out chosen on val

    def __post_init__(self):
        counts = {len(trials) for _, trials in self.trials.values()}
        if len(counts) != 1:
            raise ValueError(f"{self.name}: every row needs the same number of trials")
        if not self.base.get("val_per_class"):
            raise ValueError(f"{self.name}: the base recipe needs a val split (val_per_class)")
        if self.target is not None:
            missing = {self.target.row, self.target.over} - set(self.trials)
            if missing:
                raise ValueError(f"{self.name}: target rows {sorted(missing)} are not rows")
            if self.target.metric not in METRICS:
                raise ValueError(
                    f"{self.name}: target metric {self.target.metric!r} is not one of {METRICS}"
                )

    def settings(self, method, trial, **overrides):
        return {**self.base, "method": method, **trial, **overrides}

    def data(self, setting, cache_dir=None, **overrides):
        params = self.data_settings[setting]
        if not params or "data_dir" in overrides:
            return {}
        if "data_dir" in params:  # a CUB-layout folder of its own (e.g. another CUB subset)
            return {"dataset": "cub", "data_dir": os.path.abspath(params["data_dir"])}
        from wsol_tf.data.synthetic import ensure_synthetic

        return {"dataset": "cub", "data_dir": str(ensure_synthetic(cache_dir=cache_dir, **params))}

    @staticmethod
    def trial_label(row, index):
        return f"{row} [trial {index}]"

    @staticmethod
    def split_row(label):
        """("CAM", "setting") from a final run's row label."""
        row, _, setting = label.partition(" | ")
        return row, setting

    def selection_runs(self, rows=None, cache_dir=None, **overrides):
        """Phase 1: every trial of every row, seed 0, first data setting."""
        first = next(iter(self.data_settings))
        data = self.data(first, cache_dir, **overrides)
        return [
            Run(
                f"{self.name}_selection",
                self.trial_label(row, index),
                0,
                self.settings(method, trial, **overrides, **data),
                readout=self.readout,
            )  # fmt: skip
            for row, (method, trials) in self.trials.items()
            if not rows or row in rows
            for index, trial in enumerate(trials)
        ]

    def choose(self, results_by_row):
        """{row: index of the trial with the best validation metric} (first on ties); a
        diverged trial is never chosen, and a row whose every trial diverged has no final
        runs (the report says so)."""
        chosen = {}
        for row, results in results_by_row.items():
            scores = {
                i: r["splits"]["val"][self.selection_metric]
                for i, r in enumerate(results)
                if not r.get("diverged")
            }
            if scores:
                chosen[row] = max(scores, key=lambda i: (scores[i], -i))
        return chosen

    def final_runs(self, chosen, seeds=None, cache_dir=None, **overrides):
        """Phase 2, seed by seed (an interrupted comparison has every row and setting at the
        first seeds)."""
        data = {s: self.data(s, cache_dir, **overrides) for s in self.data_settings}
        runs = []
        for seed in self.seeds if seeds is None else seeds:
            for setting in self.data_settings:
                for row, (method, trials) in self.trials.items():
                    if row in chosen:
                        settings = self.settings(
                            method, trials[chosen[row]], **overrides, **data[setting]
                        )
                        label = f"{row} | {setting}"
                        runs.append(Run(self.name, label, seed, settings, readout=self.readout))
        return runs

    def chosen_from(self, selection, results):
        """`choose` over the finished selection runs (rows with an unfinished trial wait)."""
        by_row = {}
        for row in self.trials:
            runs = [r for r in selection if r.row.startswith(f"{row} [trial ")]
            if runs and all(r.key in results for r in runs):
                by_row[row] = [results[r.key] for r in runs]
        return self.choose(by_row)
