"""`python -m wsol_tf.reproduce` end to end: a one-epoch smoke run of every table (CI).

The runs train one step on a tiny synthetic set, so the numbers mean nothing; what is checked
is the shape of what a full run writes: every table and row, the seeds, metrics in range,
the ADL - CAM gap, the baselines, the figures, and that a second call reuses every run.
"""

import json
import os
import subprocess
import sys

import cv2
import pytest

from wsol_tf.data import synthetic
from wsol_tf.experiments import synthetic_table1, synthetic_table2


def reproduce(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "wsol_tf.reproduce", *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("reproduce")
    data = synthetic.generate(
        root / "data", num_classes=3, train_per_class=4, test_per_class=3, min_size=64,
        max_size=96,
    )  # fmt: skip
    first = reproduce(f"--workdir={root / 'work'}", *smoke_args(root, data))
    assert first.returncode == 0, first.stderr[-3000:]
    second = reproduce(f"--workdir={root / 'work'}", *smoke_args(root, data))
    assert second.returncode == 0, second.stderr[-3000:]
    return root, first, second


def smoke_args(root, data):
    """The smoke run's flags but --workdir (its run records go to root/records, never to the
    repository's results/runs)."""
    return [
        f"--synthetic_dir={data}", f"--cub_dir={data}", f"--records_dir={root / 'records'}",
        "--epochs=1", "--steps_per_epoch=1", "--batch_size=8", "--seeds=2", "--jobs=2",
        "--image_size=64",
        "--method_rows=CAM,ADL", "--method_seeds=1", "--method_val_per_class=1",
        # Every table but the EfficientNet ones (cub_pretrained, methods_cub_pretrained: the
        # same Comparison as methods_synthetic on another backbone; tests/test_cub_pretrained.py
        # runs their recipe).
        "--tables=synthetic_adl_vs_cam,synthetic_table1,synthetic_table2,"
        "synthetic_body_evidence,cub_mini,methods_synthetic",
        f"--results_md={root / 'RESULTS.md'}", f"--figures_dir={root / 'figures'}",
    ]  # fmt: skip


@pytest.mark.slow
def test_results_json_has_every_table_row_and_seed(smoke):
    root, first, _ = smoke
    report = json.loads((root / "work" / "results.json").read_text())
    tables = report["tables"]
    assert list(tables) == ["synthetic_adl_vs_cam", "synthetic_table1", "synthetic_table2",
                            "synthetic_body_evidence", "cub_mini", "methods_synthetic"]  # fmt: skip
    assert list(tables["synthetic_table1"]["rows"]) == list(synthetic_table1.ROWS)
    assert list(tables["synthetic_table2"]["rows"]) == list(synthetic_table2.ROWS)
    main = tables["synthetic_adl_vs_cam"]
    assert {row: s["seeds"] for row, s in main["rows"].items()} == {"CAM": [0, 1], "ADL": [0, 1]}
    for table in tables.values():
        for summary in table.get("rows", {}).values():
            for metric in ("top1_clas", "gt_known_loc", "maxboxacc_v2"):
                assert all(0.0 <= v <= 100.0 for v in summary[metric]["values"]), metric
            assert all(t > 0 for t in summary["train_seconds"]["values"])
    gap = main["gt_known_gap"]
    assert len(gap["values"]) == 2
    assert gap["mean"] == pytest.approx(sum(gap["values"]) / 2)
    baseline = tables["cub_mini"]["centered_box_baseline"]
    assert baseline["num_images"] == 9 and 0.0 <= baseline["best"] <= 100.0
    assert baseline["best"] >= baseline["full_image"]
    assert "ADL − CAM GT-known Loc" in first.stdout
    # The method comparison: 3 trials per row chosen on val, then every data setting (all the
    # same tiny set here, so each row's chosen trial is its only final run).
    methods = tables["methods_synthetic"]
    assert {row: len(s["scores"]) for row, s in methods["selection"].items()} == {
        "CAM": 3,
        "ADL": 3,
        **{r: 3 for r in methods["selection"] if r not in ("CAM", "ADL")},
    }
    assert all(0 <= s["chosen"] <= 2 for s in methods["selection"].values()
               if s["chosen"] is not None)  # fmt: skip
    default = methods["settings"]["default (hue noise 0.5)"]
    assert set(default) >= {"CAM", "ADL", "centered_box"}
    for row in ("CAM", "ADL"):
        assert default[row]["seeds"] == [0]
        assert 0.0 <= default[row]["gt_known_loc"][0] <= 100.0
        assert 0.0 <= default[row]["tau"][0] < 1.0  # a one-step model may peak at 0
    assert methods["costs"]["ADL"]["params"] == methods["costs"]["CAM"]["params"]


@pytest.mark.slow
def test_results_md_and_figures(smoke):
    root, _, _ = smoke
    text = (root / "RESULTS.md").read_text()
    for title in ("ADL vs CAM", "Table 1 analogue", "Table 2 analogue", "CAM vs ADL as the body",
                  "CUB-200-2011", "Every method, same backbone"):  # fmt: skip
        assert f"## {title}" in text, title
    for row in list(synthetic_table1.ROWS) + list(synthetic_table2.ROWS):
        assert f"| {row}" in text, row
    assert text.count("python -m wsol_tf.train --experiment=none") == 2 * 2 + 8 + 5 + 6 + 2 + 6
    assert "### Hyperparameters chosen on validation" in text and "Ranking by MaxBoxAccV2" in text
    assert "Body hue noise 0.25, CAM -> ADL: GT-known Loc" in text
    chart = cv2.imread(str(root / "figures" / "drop_rate.png"))
    assert chart.shape == (420, 640, 3)
    assert "](figures/drop_rate.png)" in text
    overlays = cv2.imread(str(root / "figures" / "overlays_synthetic_adl_vs_cam.png"))
    cam_grid = cv2.imread(str(root / "work" / "runs" / next(
        d for d in os.listdir(root / "work" / "runs") if d.startswith("synthetic-adl-vs-cam-cam-s0")
    ) / "overlays.png"))  # fmt: skip
    # Two grids side by side under a 28 px title band, with a 12 px gutter between them.
    assert overlays.shape == (cam_grid.shape[0] + 28, 2 * cam_grid.shape[1] + 12, 3)
    body = cv2.imread(str(root / "figures" / "overlays_synthetic_body_evidence.png"))
    assert body.shape == (cam_grid.shape[0] + 28, 6 * cam_grid.shape[1] + 5 * 12, 3)


@pytest.mark.slow
def test_second_call_reuses_every_run(smoke):
    root, first, second = smoke
    # 13 runs of the paper tables, 6 trials of the method comparison;
    # the comparisons' final runs at seed 0 are their chosen selection runs: never trained
    # twice, in either call.
    assert first.stdout.count("(trained") == 13 + 6
    assert "(trained" not in second.stdout and second.stdout.count("(reused)") == 13 + 6
    assert "runs to train" not in second.stdout  # no worker pool for nothing to train
    report = json.loads((root / "work" / "results.json").read_text())
    assert (report["distinct_runs"], report["trained_now"]) == (19, 0)
    # The reusing call keeps the first call's training wall time and adds nothing to it.
    assert report["training_wall_seconds"] > report["wall_seconds"] > 0
    # Only the first call trained: it alone is in the workdir's call log, finished.
    calls = json.loads((root / "work" / "calls.json").read_text())["calls"]
    assert [(c["trained_runs"], c["finished"]) for c in calls] == [(19, True)]
    assert (report["training_calls"], report["training_calls_stopped"]) == (1, 0)
    assert report["training_wall_seconds"] == calls[0]["seconds"]
    assert report["compute_seconds"] > 0


@pytest.mark.slow
def test_a_fresh_clone_reports_from_the_run_records_alone(smoke):
    """The workdir is lost (a fresh clone): --report_only writes the whole report from the
    committed run records, training nothing."""
    root, _, _ = smoke
    records = sorted(os.listdir(root / "records"))
    assert len(records) == 13 + 6 and all(name.endswith(".json") for name in records)
    assert all(os.path.getsize(root / "records" / name) < 30_000 for name in records)
    clone = root / "clone"
    args = [a for a in smoke_args(root, root / "data") if not a.startswith(("--results_md",
            "--figures_dir"))]  # fmt: skip
    result = reproduce(
        f"--workdir={clone / 'work'}", *args, "--report_only",
        f"--results_md={clone / 'RESULTS.md'}", f"--figures_dir={clone / 'figures'}",
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "19 of 19 runs finished (19 reused from their records)" in result.stdout
    report = json.loads((clone / "work" / "results.json").read_text())
    assert (report["distinct_runs"], report["trained_now"]) == (19, 0)
    assert report["reused_from_records"] == 19
    # The same numbers as the report of the workdir's runs (only their workdirs differ).
    first = json.loads((root / "work" / "results.json").read_text())
    assert without_workdirs(report["tables"]) == without_workdirs(first["tables"])
    assert not os.path.isdir(clone / "work" / "runs") or not os.listdir(clone / "work" / "runs")


def without_workdirs(value):
    if isinstance(value, dict):
        return {k: without_workdirs(v) for k, v in value.items() if k != "workdirs"}
    if isinstance(value, list):
        return [without_workdirs(v) for v in value]
    return value


def test_report_only_with_other_settings_overwrites_nothing(smoke):
    root, _, _ = smoke
    kept = [root / "work" / "results.json", root / "RESULTS.md"]
    before = [path.read_bytes() for path in kept]
    result = reproduce(
        f"--workdir={root / 'work'}", "--tables=synthetic_adl_vs_cam", "--epochs=3",
        "--report_only", f"--results_md={root / 'RESULTS.md'}",
        f"--records_dir={root / 'records'}", timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--report_only: none of the" in result.stderr and "nothing was written" in result.stderr
    assert [path.read_bytes() for path in kept] == before


@pytest.mark.parametrize(
    "flag,message",
    [
        ("--tables=table9", "--tables=table9: valid tables: synthetic_adl_vs_cam"),
        ("--seeds=0", "--seeds=0 must be >= 1"),
        ("--cub_dir=/nonexistent/cub", "--cub_dir=/nonexistent/cub: no CUB layout"),
        ("--epochs=0", "--epochs=0 must be >= 1"),
        # A setting only a run's config validates: refused before the first run starts.
        ("--image_size=7", "--image_size=(7, 7) is invalid: must be >= 16 pixels"),
    ],
)
def test_bad_flags_are_refused_before_any_run(flag, message, tmp_path):
    result = reproduce(flag, f"--workdir={tmp_path / 'w'}", timeout=120)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "w").exists()


def test_table_groups_expand_in_order_without_duplicates():
    from wsol_tf.reproduce import GROUPS, TABLES, expand_groups

    methods = ["methods_synthetic", "methods_cub_pretrained", "methods_cub_25cls"]
    assert expand_groups(["methods"]) == methods
    assert expand_groups(["cub_mini", "methods", "methods_synthetic"]) == ["cub_mini", *methods]
    assert all(t in TABLES for tables in GROUPS.values() for t in tables)


def test_the_default_tables_leave_out_the_multi_day_comparisons():
    from wsol_tf.reproduce import DEFAULT_TABLES, GROUPS

    assert "cub_pretrained" in DEFAULT_TABLES and "synthetic_adl_vs_cam" in DEFAULT_TABLES
    assert not set(GROUPS["methods"]) & set(DEFAULT_TABLES)
