"""Reproduction plumbing: run identity across tables, seed statistics, the report's pieces."""

import json
import math
import os

import numpy as np
import pytest

from wsol_tf import models
from wsol_tf.experiments import cub_mini, synthetic_adl_vs_cam, synthetic_table1, synthetic_table2
from wsol_tf.reproduction.report import gap_sentence, metrics_table, train_command
from wsol_tf.reproduction.runs import (
    Run,
    aggregate,
    format_mean_std,
    mean_std,
    paired_difference,
    unique_runs,
)
from wsol_tf.runs.config import TrainConfig


def test_shared_settings_are_trained_once():
    main = synthetic_adl_vs_cam.runs(range(3))
    table1 = synthetic_table1.runs((0,))
    table2 = synthetic_table2.runs((0,))
    keys = {(r.table, r.row, r.seed): r.key for r in main + table1 + table2}
    adl0 = keys[("synthetic_adl_vs_cam", "ADL", 0)]
    cam0 = keys[("synthetic_adl_vs_cam", "CAM", 0)]
    assert keys[("synthetic_table1", "75 / 25", 0)] == adl0
    assert keys[("synthetic_table2", "+ block2_pool", 0)] == adl0
    assert keys[("synthetic_table1", "N/A / N/A (CAM)", 0)] == cam0
    assert keys[("synthetic_table2", "none (CAM)", 0)] == cam0
    assert keys[("synthetic_adl_vs_cam", "ADL", 1)] != adl0  # the seed is part of the identity
    # 6 main runs + 6 new Table 1 rows + 3 new Table 2 rows.
    assert len(unique_runs(main + table1 + table2)) == 15
    assert len(unique_runs(cub_mini.runs("/data/cub"))) == 2


@pytest.mark.slow
def test_body_evidence_rows_generate_their_sets_and_share_the_default(tmp_path):
    from wsol_tf.experiments import synthetic_body_evidence as body

    runs = body.runs((0,), cache_dir=tmp_path)
    main = {r.row: r.key for r in synthetic_adl_vs_cam.runs((0,))}
    keys = {r.row: r.key for r in runs}
    assert keys[body.row_label("CAM", 0.5)] == main["CAM"]  # the default set
    assert keys[body.row_label("ADL", 0.5)] == main["ADL"]
    strong = next(r for r in runs if r.row == body.row_label("ADL", 0.25))
    assert strong.settings["dataset"] == "cub"
    readme = (tmp_path / os.path.basename(strong.settings["data_dir"]) / "README").read_text()
    assert '"body_hue_noise": 0.25' in readme
    assert len(unique_runs(runs)) == 6


def test_every_planned_run_is_a_valid_config():
    runs = synthetic_adl_vs_cam.runs((0,)) + synthetic_table1.runs((0,))
    runs += synthetic_table2.runs((0,)) + cub_mini.runs("/data/cub")
    for run in runs:
        config = TrainConfig.from_settings(**{**run.settings, "seed": run.seed}).validate()
        assert config.seed == run.seed
    table1 = {r.row: r.settings for r in synthetic_table1.runs((0,))}
    assert table1["75 / N/A (drop mask only)"]["adl_variant"] == "drop_mask_only"
    assert table1["0 / 100"]["drop_rate"] == 0.0
    table2 = {r.row: r.settings for r in synthetic_table2.runs((0,))}
    assert table2["block4_conv2"]["positions"] == ("block4_conv2",)
    assert set(table2["+ block1_pool"]["positions"]) <= set(models.spec("tinyvgg").positions)


def test_mean_std_and_paired_difference_by_hand():
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)  # sample std, ddof 1
    assert mean_std([4.0]) == (4.0, 0.0)
    assert all(math.isnan(v) for v in mean_std([None]))
    a = [{"seed": 0, "m": 10.0}, {"seed": 1, "m": 30.0}, {"seed": 2, "m": 5.0}]
    b = [{"seed": 1, "m": 20.0}, {"seed": 0, "m": 4.0}]  # paired by seed, not position
    gap = paired_difference(a, b, "m")
    assert gap["values"] == [6.0, 10.0]
    assert gap["mean"] == 8.0 and gap["std"] == pytest.approx(math.sqrt(8.0))
    assert format_mean_std(gap) == "8.0 ± 2.8"
    assert "+8.00 ± 2.83 points" in gap_sentence(gap, 10.0)
    assert "does NOT meet the target of +10" in gap_sentence(gap, 10.0)


def _result(run, top1, gt_known):
    return {
        "key": run.key, "seed": run.seed, "workdir": f"w/{run.key}", "top1_clas": top1,
        "gt_known_loc": gt_known, "top1_loc": None, "maxboxacc_v2": 50.0,
        "train_seconds": 10.0, "train_accuracy": 90.0,
    }  # fmt: skip


def test_aggregate_groups_rows_over_seeds_in_order():
    runs = [
        Run("t", row, seed, {"method": row.lower()}) for row in ("CAM", "ADL") for seed in (0, 1)
    ]
    values = {
        ("CAM", 0): (90, 10),
        ("CAM", 1): (94, 20),
        ("ADL", 0): (60, 30),
        ("ADL", 1): (70, 34),
    }
    results = {r.key: _result(r, *values[(r.row, r.seed)]) for r in runs}
    rows = aggregate(runs, results)["t"]
    assert list(rows) == ["CAM", "ADL"]
    assert rows["ADL"]["seeds"] == [0, 1]
    assert rows["ADL"]["gt_known_loc"]["mean"] == 32.0
    assert rows["CAM"]["top1_clas"]["std"] == pytest.approx(np.std([90, 94], ddof=1))
    assert math.isnan(rows["CAM"]["top1_loc"]["mean"])  # missing values stay missing
    table = metrics_table(rows, {"ADL": {"gt_known_loc": 74.78}})
    assert "| ADL | 2 | 65.0 ± 7.1 | 32.0 ± 2.8 | – | 50.0 ± 0.0 | 10 | 74.78 | – | – |" in table


def test_train_command_reproduces_the_config():
    config = TrainConfig.from_settings(
        method="adl", positions=("block3_pool", "block4_conv2"), drop_rate=0.5, epochs=12,
        image_size=(80, 96), adl_variant="drop_mask_only", workdir="runs/x",
    )  # fmt: skip
    command = train_command(json.loads(config.to_json()))
    assert command.startswith("python -m wsol_tf.train --experiment=none ")
    for flag in (
        "--method=adl", "--adl_variant=drop_mask_only", "--drop_rate=0.5",
        "--positions=block3_pool,block4_conv2", "--epochs=12", "--image_size=80,96",
        "--workdir=runs/x",
    ):  # fmt: skip
        assert flag in command.split(), flag
    cam = train_command(json.loads(TrainConfig.from_settings(method="cam").to_json()))
    assert "--drop_rate" not in cam and "--method=cam" in cam


def _rows(values):
    """{row: summary} with one seed, from {row: (top1_clas, gt_known_loc)}."""
    return {
        row: {"top1_clas": {"mean": c}, "gt_known_loc": {"mean": g}}
        for row, (c, g) in values.items()
    }


def test_table_findings_name_the_measured_best_rows():
    from wsol_tf.reproduction.report import table1_findings, table2_findings

    rows = _rows({
        "100 / 0": (50, 20), "75 / 25": (60, 30), "50 / 50": (70, 35), "25 / 75": (80, 10),
        "0 / 100": (90, 5), "N/A / N/A (CAM)": (95, 6), "75 / N/A (drop mask only)": (40, 28),
        "N/A / 25 (importance map only)": (96, 7),
    })  # fmt: skip
    best, importance, drop = table1_findings(rows)
    assert best.startswith("Best GT-known Loc on the drop_rate curve: 50 / 50 (35.0)")
    assert "GT-known Loc 7.0 vs CAM 6.0" in importance
    assert "Top-1 Clas 40.0 vs 60.0 with both components and 95.0 for CAM" in drop
    rows = _rows({"none (CAM)": (95, 5), "block4_conv2": (96, 9), "+ block3_pool": (90, 25)})
    gt, clas = table2_findings(rows)
    assert "5.0 -> 9.0 -> 25.0; best: + block3_pool" in gt
    assert "95.0 -> 96.0 -> 90.0" in clas


def test_a_finished_run_is_reused_only_under_its_identity(tmp_path):
    from wsol_tf.data import synthetic
    from wsol_tf.data.datasets import load_split
    from wsol_tf.reproduction.runner import RESULT_FILE, identity, run_config
    from wsol_tf.training.workdir import data_identity

    data = tmp_path / "data"
    synthetic.generate(data, num_classes=2, train_per_class=2, test_per_class=1, seed=1,
                       min_size=32, max_size=40)  # fmt: skip
    workdir = tmp_path / "run"
    config = TrainConfig.from_settings(method="cam", dataset="cub", data_dir=str(data),
                                       epochs=3, workdir=str(workdir))  # fmt: skip
    wanted = identity(config)
    assert set(wanted["data"]) == {"train", "test"}  # both splits, by content
    workdir.mkdir()
    (workdir / RESULT_FILE).write_text(json.dumps({"identity": wanted, "x": 1}))
    result = run_config(config, print_fn=lambda _: None)  # finished: reused, nothing trained
    assert result["reused"] and result["x"] == 1
    assert (
        identity(TrainConfig.from_settings(**{**json.loads(config.to_json()), "epochs": 4}))[
            "config"
        ]
        != wanted["config"]
    )
    assert identity(config, {"cam": "gradcam"}) != wanted
    # The synthetic set's generator parameters are part of the data's identity.
    records = load_split("cub", str(data), "train")
    assert data_identity("synthetic", records)["synthetic"].startswith("synthetic-v")


def test_a_diverged_run_is_recorded_reused_and_does_not_stop_the_others(tmp_path, monkeypatch):
    """A loss that diverges in one run of a reproduction is its result (recorded in
    result.json, reused by later calls), and the runs after it still run."""
    from wsol_tf import training
    from wsol_tf.data import synthetic
    from wsol_tf.reproduction import runs as reproduction
    from wsol_tf.reproduction.call_log import CallLog, read_calls
    from wsol_tf.reproduction.runner import RESULT_FILE, identity, run_config

    data = tmp_path / "data"
    synthetic.generate(data, num_classes=2, train_per_class=2, test_per_class=1, seed=1,
                       min_size=32, max_size=40)  # fmt: skip
    base = {"method": "cam", "dataset": "cub", "data_dir": str(data), "epochs": 3}
    diverging = Run("t", "SPG", 0, {**base, "lr": 1e30})
    finished = Run("t", "CAM", 0, base)
    done = reproduction._config(finished, reproduction.run_workdir(str(tmp_path), finished))
    os.makedirs(done.workdir)
    with open(os.path.join(done.workdir, RESULT_FILE), "w") as f:
        json.dump({"identity": identity(done), "top1_clas": 75.0, "train_seconds": 3.0}, f)
    message = "Loss became nan at step 2 (epoch 1, precision float32); stopped."
    calls = []

    def diverge(config, **_):
        calls.append(config.workdir)
        os.makedirs(config.workdir, exist_ok=True)
        with open(os.path.join(config.workdir, "train_log.json"), "w") as f:
            json.dump([{"step": 1, "seconds": 4.5, "accuracy": 10.0}], f)
        raise FloatingPointError(message)

    monkeypatch.setattr(training, "train", diverge)
    lines = []
    log = CallLog(str(tmp_path), "first call", interval=3600)
    results = reproduction.execute(
        [diverging, finished], str(tmp_path), print_fn=lines.append, call_log=log
    )
    assert results[finished.key]["top1_clas"] == 75.0 and results[finished.key]["reused"]
    record = results[diverging.key]
    assert record["diverged"] == message and record["top1_clas"] is None
    assert record["train_seconds"] == 4.5 and record["reused"] is False
    # The finished run is reported first, without a worker; then the one that trains.
    assert "t / CAM seed 0:" in lines[0] and "(reused)" in lines[0]
    assert f"t / SPG seed 0: diverged: {message}" in lines[-1]
    # The call trained (into the divergence): it is logged with its one trained run.
    [entry] = read_calls(str(tmp_path))
    assert (entry["command"], entry["trained_runs"], entry["finished"]) == ("first call", 1, False)
    # A later call reuses the record instead of training into the divergence again, and
    # adds no time to the training calls'.
    quiet = CallLog(str(tmp_path), "second call", interval=3600)
    again = reproduction.execute(
        [diverging], str(tmp_path), print_fn=lambda _: None, call_log=quiet
    )
    quiet.finish()
    assert again[diverging.key]["reused"] and again[diverging.key]["diverged"] == message
    assert len(calls) == 1
    assert [c["command"] for c in read_calls(str(tmp_path))] == ["first call"]
    # The plain runner (demo, sweep) still raises it.
    config = reproduction._config(diverging, reproduction.run_workdir(str(tmp_path), diverging))
    with pytest.raises(FloatingPointError, match="Loss became nan at step 2"):
        run_config(config, print_fn=lambda _: None)
    with pytest.raises(ValueError, match="on_divergence='ignore'"):
        run_config(config, on_divergence="ignore")


def test_a_run_finished_by_another_table_is_found_by_its_settings(tmp_path):
    """The method comparison's CAM row is the real-bird table's CAM run (same settings and
    seed): it is found whichever table ran first, not only when that table is listed."""
    from wsol_tf.reproduction.runs import run_workdir

    settings = {"method": "cam", "lr": 0.01}
    first, second = Run("cub_pretrained", "CAM", 0, settings), Run("methods", "CAM", 0, settings)
    other_seed = Run("methods", "CAM", 1, settings)
    assert first.key == second.key and first.dirname != second.dirname
    assert run_workdir(str(tmp_path), second) == str(tmp_path / "runs" / second.dirname)
    os.makedirs(tmp_path / "runs" / first.dirname)
    assert run_workdir(str(tmp_path), second) == str(tmp_path / "runs" / first.dirname)
    assert run_workdir(str(tmp_path), other_seed) == str(tmp_path / "runs" / other_seed.dirname)
    os.makedirs(tmp_path / "runs" / second.dirname)  # its own folder wins once it has one
    assert run_workdir(str(tmp_path), second) == str(tmp_path / "runs" / second.dirname)


def test_a_tables_description_is_its_docstrings_whole_first_paragraph():
    from wsol_tf.reproduction.report import first_paragraph

    assert first_paragraph("CAM vs ADL on real birds: EfficientNet\nfine-tuned.\n\nMore.") == (
        "CAM vs ADL on real birds: EfficientNet fine-tuned."
    )
    assert first_paragraph(None) == ""


def test_method_rows_select_rows_of_every_comparison_in_tables():
    """--method_rows applies to each method comparison of --tables (it used to reach only the
    synthetic one); a comparison with none of the rows is skipped, never run whole."""
    from wsol_tf.reproduce import plan

    def selection(method_rows):
        lines = []
        planned = plan(
            ["cub_pretrained", "methods_cub_pretrained"], seeds=1, table_seeds=1, overrides={},
            synthetic_dir=None, cub_dir="/data/cub", print_fn=lines.append,
            method_rows=method_rows,
        )  # fmt: skip
        rows = {name: [r.row for r in runs] for name, runs in planned.items()}
        return rows, lines

    rows, _ = selection(["CAM", "HaS"])
    assert rows["cub_pretrained_selection"] == ["CAM [trial 0]"]
    assert rows["methods_cub_pretrained_selection"] == ["CAM [trial 0]", "HaS [trial 0]"]
    rows, lines = selection(["HaS"])
    assert "cub_pretrained_selection" not in rows
    assert lines == ["Skipping cub_pretrained: none of --method_rows is one of its rows."]
    rows, _ = selection(None)
    assert len(rows["methods_cub_pretrained_selection"]) == 11


@pytest.mark.parametrize(
    "epoch_seconds, expected",
    [
        ([20, 22, 650, 24], (89.0, 1)),  # median 23: 650 > 115 counts as 23
        ([20, 22, 110, 24], (176.0, 0)),  # 110 < 5 x 23: a slow epoch, kept
        ([25, 24, 49, 34, 650, 89, 37, 677, 66, 28, 39, 25], (492.0, 2)),  # median 38: 416 + 2 x 38
        ([300], (300.0, 0)),  # one epoch is its own median
        ([], (0.0, 0)),
        ([0, 0, 5], (5.0, 0)),  # a zero median replaces nothing
    ],
)
def test_train_time_counts_an_epoch_of_a_stopped_process_as_the_median(epoch_seconds, expected):
    from wsol_tf.reproduction.runner import train_time

    assert train_time(epoch_seconds) == pytest.approx(expected)


def test_a_result_from_before_the_pause_rule_is_retimed_from_its_train_log(tmp_path):
    from wsol_tf.reproduction import runner

    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "train_log.json").write_text(
        json.dumps([{"epoch": i + 1, "seconds": s} for i, s in enumerate([20, 22, 650, 24])])
    )
    old = {"identity": {"x": 1}, "train_seconds": 716.0}
    assert runner._timed(old, str(workdir)) == {
        "identity": {"x": 1}, "train_seconds": 89.0, "train_seconds_wall": 716.0,
        "paused_epochs": 1,
    }  # fmt: skip
    new = {**old, "paused_epochs": 0}
    assert runner._timed(new, str(workdir)) is new  # written by this code: read as is
    assert runner._timed(old, str(tmp_path / "gone")) is old  # no log: kept as read
