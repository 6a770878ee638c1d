"""The beyond_cam table (issue 32): FSL and the pseudo-box localizer beside cub_recipe's CAM and
best-row runs. No TensorFlow: the WSOL runs, FSL and the pseudo-box localizer are fakes that
return hand-made metrics, so what is checked is the plan, the reuse (workdir, records,
--report_only), the retraining of a run known only from its record, the targets and the
Markdown."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from wsol_tf import fsl, pseudo_box
from wsol_tf.experiments import beyond_cam as experiment
from wsol_tf.experiments import cub_recipe
from wsol_tf.reproduction import beyond_cam as table
from wsol_tf.reproduction import runs as runs_lib

A, B = "CUB 25cls (test split)", "CUB mini (test split)"
SETTINGS = table.localizer_settings(experiment.FSL_TRIALS, experiment.PSEUDO_BOX)
# Hand-made numbers. WSOL rows at their read-out: CAM MaxBoxAccV2 60 on A and B, ADL 62 on A
# and 70 on B; FSL MaxBoxAccV2 66 + seed on A (above both: met), 68 + seed on B (mean 69 < 70:
# missed). Pseudo-box Top-1 Loc minus CAM's, paired by seed: A +4, +6, +7 (mean 5.67: met),
# B +4, +5, +5.5 (mean 4.83: missed).
CAM_TOP1_LOC = {0: 40.0, 1: 44.0, 2: 42.0}
WSOL_MAXBOXACC = {("CAM", A): 60.0, ("ADL", A): 62.0, ("CAM", B): 60.0, ("ADL", B): 70.0}
FSL_MAXBOXACC = {A: 66.0, B: 68.0}
PSEUDO_BOX_GAIN = {A: {0: 4.0, 1: 6.0, 2: 7.0}, B: {0: 4.0, 1: 5.0, 2: 5.5}}


@pytest.fixture
def comparison(tmp_path):
    """cub_recipe's comparison on two (absent) folders: keys and dirnames need no data."""
    return dataclasses.replace(
        cub_recipe.COMPARISON,
        data_settings={A: {"data_dir": str(tmp_path / "25cls")},
                       B: {"data_dir": str(tmp_path / "mini")}},
    )  # fmt: skip


def a_result(run, shift=0.0):
    """A finished cub_recipe run: test metrics, and the read-out chosen on validation."""
    row, setting = run.row.split(" | ")
    top1_loc = CAM_TOP1_LOC[run.seed] + (0.0 if row == "CAM" else 1.0) + shift
    metrics = {"top1_clas": 80.0, "gt_known_loc": 55.0, "top1_loc": top1_loc,
               "maxboxacc_v2": WSOL_MAXBOXACC[(row, setting)] + shift}  # fmt: skip
    return {
        **{m: v - 1.0 for m, v in metrics.items()},  # classic CAM: below the read-out
        "key": run.key, "table": run.table, "row": run.row, "seed": run.seed,
        "checkpoint": f"/gone/{run.dirname}/checkpoints/ckpt-30", "train_seconds": 600.0,
        "readout": {"cam": "layercam", "threshold": 0.25, **metrics},
    }  # fmt: skip


class Fakes:
    """train_and_evaluate, run_fsl and run_pseudo_box, counting their calls; the WSOL runs'
    workdirs and records are kept here (the fake's own records, by records folder)."""

    def __init__(self, monkeypatch):
        self.workdirs, self.records = {}, {}  # root -> {key: result}; folder -> {key: result}
        self.trained, self.fsl, self.pseudo_box = [], [], []
        self.shift = 0.0  # a run trained again gives other numbers
        monkeypatch.setattr(runs_lib, "train_and_evaluate", self.train_and_evaluate)
        monkeypatch.setattr(fsl, "run_fsl", self.run_fsl)
        monkeypatch.setattr(pseudo_box, "run_pseudo_box", self.run_pseudo_box)

    def train_and_evaluate(self, run, root, print_fn=print, threads=0, reuse_only=False,
                           records_dir=None, use_records=True):  # fmt: skip
        done = self.workdirs.setdefault(root, {})
        recorded = self.records.setdefault(records_dir, {})
        if run.key in done:
            result = {**done[run.key], "reused": True}
        elif records_dir and use_records and run.key in recorded:
            return {**recorded[run.key], "reused": "record"}
        elif reuse_only:
            return None
        else:
            self.trained.append((run.key, use_records))
            done[run.key] = a_result(run, self.shift)
            result = {**done[run.key], "reused": False}
        if records_dir:
            recorded[run.key] = {k: v for k, v in result.items() if k != "reused"}
        return result

    def run_fsl(self, run_workdir, out_dir, *, trials, seed, checkpoint, print_fn):
        self.fsl.append((run_workdir, seed, [t.name for t in trials]))
        setting = self._data_setting(run_workdir)
        metrics = {"top1_clas": 80.0, "gt_known_loc": 75.0, "top1_loc": 60.0,
                   "maxboxacc_v2": FSL_MAXBOXACC[setting] + seed, "num_boxes_used": 125,
                   "maxboxacc_v2_per_iou": {"0.5": {"accuracy": 80.0}}, "total_seconds": 30.0,
                   "checkpoint": checkpoint, "seed": seed}  # fmt: skip
        return self._write(out_dir, metrics)

    def run_pseudo_box(self, run_workdir, out_dir, *, trials, seed, epochs, batch_size,
                       steps_per_epoch, checkpoint, print_fn):  # fmt: skip
        self.pseudo_box.append((run_workdir, seed, epochs))
        setting = self._data_setting(run_workdir)
        top1_loc = CAM_TOP1_LOC[seed] + PSEUDO_BOX_GAIN[setting][seed]
        metrics = {"top1_clas": 80.0, "gt_known_loc": 70.0, "top1_loc": top1_loc,
                   "maxboxacc_v2": None, "box_accuracy": {"0.3": 80.0, "0.5": 60.0, "0.7": 20.0},
                   "num_boxes_used": 0, "seconds": 40.0, "checkpoint": checkpoint}  # fmt: skip
        return self._write(out_dir, metrics)

    def _data_setting(self, run_workdir):
        name = os.path.basename(run_workdir)
        return A if "cub-25cls" in name else B

    @staticmethod
    def _write(out_dir, metrics):
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "metrics.json"), "w") as f:
            json.dump(metrics, f)
        return metrics


def build(runs, root, records, **kwargs):
    return table.build(runs, str(root), reference_row="CAM", settings=SETTINGS,
                       records_dir=str(records), print_fn=lambda _: None, **kwargs)  # fmt: skip


def report(runs, built):
    box = {"val_fraction": 0.8, "test_at_val": 55.0, "test_best": 56.0, "test_best_fraction": 0.8}
    return table.summarize(runs, built, reference_row="CAM", best_row="ADL",
                           targets=experiment.TARGETS, centered_box={A: box, B: box})  # fmt: skip


def test_the_plan_is_cub_recipes_own_final_runs(comparison, monkeypatch):
    from wsol_tf import reproduce

    assert experiment.SOURCE_TABLE == "cub_recipe"
    assert experiment.COMPARISON.data_settings == cub_recipe.COMPARISON.data_settings
    ranked = experiment.comparison_of(comparison)
    monkeypatch.setattr(cub_recipe, "COMPARISON", comparison)
    overrides = {"epochs": 1, "val_per_class": 2}
    planned = reproduce.plan(["cub_recipe"], 1, 1, {"epochs": 1}, None, None,
                             method_overrides={"val_per_class": 2})  # fmt: skip
    selection = planned["cub_recipe_selection"]
    chosen = {r.key: {"splits": {"val": {"maxboxacc_v2": 50.0}}} for r in selection}
    planned = reproduce.plan_final(planned, chosen, 3, {"epochs": 1}, None, {"val_per_class": 2})
    ours = table.plan(ranked, ("CAM", "ADL"), range(3), **overrides)
    assert [(r.key, r.dirname, r.readout) for r in ours] == [
        (r.key, r.dirname, r.readout) for r in planned["cub_recipe"]
    ]
    assert len(ours) == 12 and {r.seed for r in ours} == {0, 1, 2}
    # Seed 0 of the first setting is cub_recipe's selection run itself (trained once).
    assert {r.key for r in planned["cub_recipe_selection"]} <= {r.key for r in ours}
    assert [r.row for r in table.plan(comparison, ("CAM",), [0])] == [f"CAM | {A}", f"CAM | {B}"]
    with pytest.raises(ValueError, match="no row 'HaS'"):
        table.plan(comparison, ("CAM", "HaS"), [0])
    # A ranked row: methods_cub_25cls's chosen trial on cub_recipe's sets and recipe.
    spg = table.plan(ranked, ("SPG",), [0])
    assert [r.row for r in spg] == [f"SPG | {A}", f"SPG | {B}"]
    assert spg[0].settings["positions"] == ("block4c_relu", "block5c_relu")
    assert spg[0].settings["spg_branch_lr_factor"] == 0.0333


def test_the_chosen_trials_are_the_ones_validation_chose_in_the_run_records():
    """CHOSEN_TRIALS against methods_cub_25cls's selection records in results/runs (the
    repository's; a row whose trials are not all recorded is skipped)."""
    from wsol_tf.experiments import methods_cub_25cls

    records = os.path.join(os.path.dirname(__file__), "..", "results", "runs")
    # Run names need no data (a clone without ../shared/data has no data settings).
    comparison = dataclasses.replace(
        methods_cub_25cls.COMPARISON, data_settings={"absent": {"data_dir": "/absent"}}
    )
    checked = []
    for row, (_, trials) in comparison.trials.items():
        found = []
        for index in range(len(trials)):
            slug = (
                f"methods-cub-25cls-selection-{row.lower().replace(' + ', '-')}-trial-{index}-s0-"
            )
            names = [n for n in os.listdir(records) if n.startswith(slug)]
            if len(names) == 1:
                with open(os.path.join(records, names[0])) as f:
                    found.append(json.load(f))
        if len(found) != len(trials):
            continue
        chosen = comparison.choose({row: found})
        assert experiment.CHOSEN_TRIALS.get(row) == chosen.get(row), row
        checked.append(row)
    if not checked:
        pytest.skip("no finished selection of methods_cub_25cls in results/runs")
    two = dataclasses.replace(comparison, trials={"CAM": ("cam", [{}, {"lr": 0.1}])})
    with pytest.raises(ValueError, match="row 'CAM' has 2 trials"):
        table.plan(two, ("CAM",), [0])


def test_smoke_overrides_reach_every_localizer_trial():
    settings = table.localizer_settings(
        experiment.FSL_TRIALS, experiment.PSEUDO_BOX, {"epochs": 1, "steps_per_epoch": 2}
    )
    assert [t.epochs for t in settings["fsl"]["trials"]] == [1, 1]
    assert settings["pseudo_box"]["epochs"] == 1 and settings["pseudo_box"]["steps_per_epoch"] == 2
    assert SETTINGS["pseudo_box"]["epochs"] == 30 and SETTINGS["fsl"]["trials"][0].epochs == 60


def test_localizers_run_once_record_and_are_reused_from_records_alone(
    comparison, tmp_path, monkeypatch
):
    fakes = Fakes(monkeypatch)
    runs = table.plan(comparison, ("CAM", "ADL"), range(3))
    records = tmp_path / "records"
    first = build(runs, tmp_path / "w", records)
    assert len(fakes.trained) == 12 and len(fakes.fsl) == 6 and len(fakes.pseudo_box) == 6
    cam = [r for r in runs if r.row.startswith("CAM")]
    # Into the CAM run's workdir, stamped with the source run and the settings.
    folder = os.path.join(runs_lib.run_workdir(str(tmp_path / "w"), cam[0]), "fsl")
    assert first["localizers"]["fsl"][cam[0].key]["out_dir"] == folder
    stamped = json.loads(open(os.path.join(folder, "metrics.json")).read())[table.STAMP_KEY]
    assert stamped["source"]["run"] == cam[0].key and stamped["source"]["checkpoint"] == "ckpt-30"
    assert stamped["settings"]["seed"] == cam[0].seed
    written = sorted(os.listdir(records / "beyond_cam"))
    assert len(written) == 12
    assert f"fsl-cub-25cls-test-split-s0-{cam[0].key}.json" in written
    assert f"pseudo-box-cub-25cls-test-split-s0-{cam[0].key}.json" in written

    # Again: everything from the workdirs, nothing trained.
    again = build(runs, tmp_path / "w", records)
    assert len(fakes.trained) == 12 and len(fakes.fsl) == 6 and len(fakes.pseudo_box) == 6
    assert {e["reused"] for e in again["localizers"]["fsl"].values()} == {True}

    # A fresh clone (no workdir), --report_only: from the records alone, the same table.
    clone = build(runs, tmp_path / "clone", records, reuse_only=True)
    assert len(fakes.trained) == 12 and len(fakes.fsl) == 6 and len(fakes.pseudo_box) == 6
    assert {e["reused"] for kind in table.LOCALIZERS
            for e in clone["localizers"][kind].values()} == {"record"}  # fmt: skip
    assert not os.path.exists(tmp_path / "clone")
    assert report(runs, clone) == report(runs, first)
    # Without records --report_only finds nothing.
    nothing = build(runs, tmp_path / "clone", tmp_path / "none", reuse_only=True)
    assert not table.found_anything(nothing)

    # Other localizer settings: the records do not match, so the localizers would run again.
    other = table.localizer_settings(experiment.FSL_TRIALS, experiment.PSEUDO_BOX, {"epochs": 1})
    found = table.build(
        runs, str(tmp_path / "clone"), reference_row="CAM", settings=other,
        records_dir=str(records), reuse_only=True, print_fn=lambda _: None,
    )  # fmt: skip
    assert found["localizers"] == {"fsl": {}, "pseudo_box": {}}


def test_a_run_known_only_from_its_record_is_trained_again_for_a_missing_localizer(
    comparison, tmp_path, monkeypatch
):
    fakes = Fakes(monkeypatch)
    runs = table.plan(comparison, ("CAM", "ADL"), range(3))
    records = tmp_path / "records"
    build(runs, tmp_path / "w", records)
    cam1 = next(r for r in runs if r.row == f"CAM | {A}" and r.seed == 1)
    os.remove(table.record_path(str(records), "fsl", A, 1, cam1.key))
    fakes.trained.clear(), fakes.fsl.clear(), fakes.pseudo_box.clear()
    fakes.shift = 0.5  # trained again, the run's numbers change

    # --report_only trains nothing: the table has that seed's FSL missing.
    clone = build(runs, tmp_path / "clone", records, reuse_only=True)
    assert fakes.trained == [] and fakes.fsl == [] and cam1.key not in clone["localizers"]["fsl"]
    rows = report(runs, clone)["settings"][A]["rows"]
    assert rows["FSL"]["seeds"] == [0, 2] and rows["FSL"]["missing"] == [1]

    built = build(runs, tmp_path / "clone", records)
    # Only that CAM run, with its records not reused (it needs a checkpoint).
    assert fakes.trained == [(cam1.key, False)]
    assert [(os.path.basename(w), s) for w, s, _ in fakes.fsl] == [(cam1.dirname, 1)]
    # Its pseudo-box record came from the earlier training: the new one runs again too.
    assert [(os.path.basename(w), s) for w, s, _ in fakes.pseudo_box] == [(cam1.dirname, 1)]
    assert built["results"][cam1.key]["readout"]["maxboxacc_v2"] == 60.5
    entry = built["localizers"]["pseudo_box"][cam1.key]
    # Its stamp names the new training (classic CAM's test MaxBoxAccV2, 60.5 - 1).
    assert entry["reused"] is False and entry["stamp"]["source"]["maxboxacc_v2"] == 59.5
    others = [e for k, e in built["localizers"]["fsl"].items() if k != cam1.key]
    assert len(others) == 5 and {e["reused"] for e in others} == {"record"}


def test_a_diverged_source_run_gets_no_localizer(comparison, tmp_path, monkeypatch):
    fakes = Fakes(monkeypatch)
    runs = table.plan(comparison, ("CAM", "ADL"), [0])
    cam = runs[0]
    fakes.workdirs[str(tmp_path / "w")] = {cam.key: {**a_result(cam), "diverged": "loss is nan"}}
    built = build(runs, tmp_path / "w", tmp_path / "records")
    assert cam.key not in built["localizers"]["fsl"] and len(fakes.fsl) == 1  # setting B only
    rows = report(runs, built)["settings"][A]["rows"]
    assert rows["CAM"]["diverged"] == [0] and rows["FSL"]["diverged"] == [0]


def test_the_targets_worked_out_by_hand(comparison, tmp_path, monkeypatch):
    Fakes(monkeypatch)
    runs = table.plan(comparison, ("CAM", "ADL"), range(3))
    settings = report(runs, build(runs, tmp_path / "w", tmp_path / "records"))["settings"]
    first, second = settings[A]["targets"], settings[B]["targets"]
    # A: FSL 67 (66, 67, 68) > CAM 60 and ADL 62; B: FSL 69 (68, 69, 70) < ADL 70.
    assert first["fsl"]["fsl"] == pytest.approx(67.0) and first["fsl"]["verdict"] == "met"
    assert first["fsl"]["wsol"] == {"CAM": 60.0, "ADL": 62.0}
    assert second["fsl"]["fsl"] == pytest.approx(69.0) and second["fsl"]["verdict"] == "missed"
    # Pseudo-box minus CAM (at its read-out), paired by seed.
    assert first["pseudo_box"]["differences"] == pytest.approx([4.0, 6.0, 7.0])
    assert first["pseudo_box"]["mean_difference"] == pytest.approx(17.0 / 3)
    assert first["pseudo_box"]["verdict"] == "met"
    assert second["pseudo_box"]["mean_difference"] == pytest.approx(14.5 / 3)
    assert second["pseudo_box"]["verdict"] == "missed"


def test_verdicts_pair_by_seed_and_say_unknown_without_data():
    def row(seeds, values, metric):
        return {"seeds": seeds, "values": {m: list(values) if m == metric else [None] * len(seeds)
                                           for m in runs_lib.METRICS}}  # fmt: skip

    rows = {
        "CAM": row([0, 1], [40.0, 50.0], "top1_loc"),
        "ADL": row([], [], "top1_loc"),
        "FSL": row([0], [70.0], "maxboxacc_v2"),
        # Seed 2 has no CAM run to pair with; the seeds come in another order.
        "pseudo-box": row([2, 1, 0], [90.0, 54.0, 46.0], "top1_loc"),
    }
    verdict = table.verdicts(rows, "CAM", "ADL", experiment.TARGETS)
    assert verdict["pseudo_box"]["seeds"] == [1, 0]
    assert verdict["pseudo_box"]["differences"] == [4.0, 6.0]
    assert verdict["pseudo_box"]["mean_difference"] == 5.0
    assert verdict["pseudo_box"]["verdict"] == "met"
    # No MaxBoxAccV2 of any WSOL row: FSL's target is not known yet, never "met".
    assert verdict["fsl"]["verdict"] == "unknown"
    rows["pseudo-box"] = row([1, 0], [53.9, 46.0], "top1_loc")  # 3.9 and 6.0: mean 4.95
    missed = table.verdicts(rows, "CAM", "ADL", experiment.TARGETS)
    assert missed["pseudo_box"]["verdict"] == "missed"
    text = "\n".join(table.target_lines(verdict, "CAM"))
    assert "FSL above every WSOL row on MaxBoxAccV2 (mean over seeds): not known yet" in text
    assert "+5.0 (seeds 1, 0: +4.0, +6.0) vs >= 5: **met**" in text


def test_the_markdown_rows(comparison, tmp_path, monkeypatch):
    Fakes(monkeypatch)
    runs = table.plan(comparison, ("CAM", "ADL"), range(3))
    text = table.markdown(report(runs, build(runs, tmp_path / "w", tmp_path / "r")), "cub_recipe")
    section = text.split(f"### {A}")[1].split(f"### {B}")[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]  # header, rows
    assert [line.split(" | ")[0] for line in lines[1:]] == [
        "| CAM (WSOL)", "| ADL (WSOL)", "| FSL (from the CAM run)",
        "| pseudo-box (from the CAM run)", "| centered box (size chosen on val: 0.80 of each side)",
    ]  # fmt: skip
    # CAM at its read-out: Top-1 Loc 40, 44, 42 -> 42.0 ± 2.0; MaxBoxAccV2 60.
    assert lines[1] == (
        "| CAM (WSOL) | 80.0 ± 0.0 | 55.0 ± 0.0 | 42.0 ± 2.0 | 60.0 ± 0.0 | – | 0 | 600 ± 0 | "
        "0, 1, 2 | layercam @ 0.25 (x3) |"
    )
    assert "| 67.0 ± 1.0 | – | 125 | 30 ± 0 | 0, 1, 2 |" in lines[3]
    # Pseudo-box Top-1 Loc 44, 50, 49 -> 47.7 ± 3.2.
    assert ("| 47.7 ± 3.2 | n/a: one box per image | 80.0 ± 0.0 / 60.0 ± 0.0 / 20.0 ± 0.0 | 0 | "
            "40 ± 0 | 0, 1, 2 |") in lines[4]  # fmt: skip
    assert lines[5] == (
        "| centered box (size chosen on val: 0.80 of each side) | – | 55.0 | – | – | – | 0 | – | "
        "– | – |"
    )
    assert "FSL 67.0 vs CAM 60.0, ADL 62.0: **met**" in section
    assert "+5.7 (seeds 0, 1, 2: +4.0, +6.0, +7.0) vs >= 5: **met**" in section
    assert "FSL 69.0 vs CAM 60.0, ADL 70.0: **missed**" in text.split(f"### {B}")[1]


def test_beyond_cam_is_no_default_table_and_a_bad_best_row_is_refused(tmp_path, no_tensorflow):
    from wsol_tf.reproduce import DEFAULT_TABLES, OWN_REPORT_TABLES

    assert "beyond_cam" in OWN_REPORT_TABLES and "beyond_cam" not in DEFAULT_TABLES
    env = dict(os.environ, **no_tensorflow)
    done = subprocess.run(
        [sys.executable, "-m", "wsol_tf.reproduce", "--tables=beyond_cam",
         "--beyond_cam_best_row=Nope", f"--workdir={tmp_path / 'w'}"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert (
        "--beyond_cam_best_row=Nope: rows of the method ranking with a chosen trial: CAM, ADL, "
        "HaS," in done.stderr
    )
    assert not (tmp_path / "w").exists()
