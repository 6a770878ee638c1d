"""The method comparison's report: validation-chosen metrics, ranking and target verdicts,
worked out by hand on small made-up results (no TensorFlow)."""

import pytest

from wsol_tf.reproduction.comparison import Comparison, Target
from wsol_tf.reproduction.methods_report import (
    ranking,
    ranking_lines,
    target_sentence,
    target_verdict,
    val_chosen,
)


def _row(seeds, maxboxacc, gt_known):
    return {
        "seeds": list(seeds),
        "values": {
            "top1_clas": [50.0] * len(seeds),
            "gt_known_loc": list(gt_known),
            "top1_loc": [30.0] * len(seeds),
            "maxboxacc_v2": list(maxboxacc),
        },
        "tau": [0.2] * len(seeds),
        "train_seconds": [1.0] * len(seeds),
    }


def test_val_chosen_takes_test_metrics_at_the_best_validation_threshold():
    result = {
        "top1_clas": 80.0,
        "maxboxacc_v2": 61.0,
        "curve": {
            "thresholds": [0.1, 0.2, 0.3],
            "gt_known_loc": [10.0, 20.0, 90.0],  # test's own best (0.3) must not be used
            "top1_loc": [5.0, 15.0, 70.0],
        },
        "splits": {
            "val": {"curve": {"thresholds": [0.1, 0.2, 0.3], "gt_known_loc": [40.0, 55.0, 55.0]}}
        },
    }
    chosen = val_chosen(result)
    # Ties on validation go to the lowest threshold.
    assert chosen == {
        "tau": 0.2,
        "top1_clas": 80.0,
        "gt_known_loc": 20.0,
        "top1_loc": 15.0,
        "maxboxacc_v2": 61.0,
        "val_gt_known_loc": 55.0,
    }


def test_ranking_resolves_a_gap_from_the_best_by_the_paired_t_test_not_by_the_spread():
    rows = {
        "A": _row([0, 1, 2], [60.0, 62.0, 64.0], [0, 0, 0]),  # 62 ± 2
        # B - A = -1, -1.2, -0.8: mean -1, sd 0.2, t = -1 / (0.2 / sqrt 3) = -8.66 > 4.30 with
        # 2 dof, so resolved below although B's mean (61) is well within A's seed spread.
        "B": _row([0, 1, 2], [59.0, 60.8, 63.2], [0, 0, 0]),
        # C - A = -10, +2, -4: mean -4, sd 6, t = -1.15: not resolved, a 4-point gap.
        "C": _row([0, 1, 2], [50.0, 64.0, 60.0], [0, 0, 0]),
    }
    order, tied = ranking(rows)
    assert [name for name, *_ in order] == ["A", "B", "C"]
    assert order[0][1] == pytest.approx(62.0) and order[0][2] == pytest.approx(2.0)
    assert tied == ["C"]
    assert ranking_lines(rows)[1] == (
        "Not resolved from the best (A) by the paired t-test over seeds (p >= 0.05): C."
    )


def test_one_seed_per_row_resolves_no_difference_of_the_ranking():
    one_seed = {"A": _row([0], [62.0], [0]), "B": _row([0], [50.0], [0])}
    assert ranking_lines(one_seed) == [
        "Ranking by MaxBoxAccV2: A 62.0 > B 50.0.",
        "One seed per row: the seed-to-seed spread is not measured, so no difference in "
        "this ranking is resolved by it.",
    ]
    # Two seeds: 1 dof, critical |t| 12.7; B - A = -1, -3: mean -2, sd 1.414, t = -2.
    seeds = {"A": _row([0, 1], [60.0, 62.0], [0, 0]), "B": _row([0, 1], [59.0, 59.0], [0, 0])}
    assert ranking(seeds)[1] == ["B"]
    assert ranking_lines(seeds)[1] == (
        "Not resolved from the best (A) by the paired t-test over seeds (p >= 0.05): B."
    )


def test_target_is_paired_by_seed_and_ignores_unpaired_seeds():
    rows = {
        # ADL has seed 2, CAM does not: only seeds 0 and 1 are compared.
        "ADL": _row([0, 1, 2], [66.0, 64.0, 99.0], [70.0, 70.0, 70.0]),
        "CAM": _row([1, 0], [60.0, 62.0], [69.0, 69.0]),
    }
    target = Target("ADL", "CAM", "maxboxacc_v2", margin=3.0)
    verdict = target_verdict(rows, None, target)
    assert verdict["differences"] == [4.0, 4.0]  # seed 0: 66-62, seed 1: 64-60
    assert verdict["mean"] == 4.0 and verdict["met"] is True
    assert target_verdict(rows, None, Target("ADL", "CAM", margin=4.5))["met"] is False
    sentence = target_sentence(rows, None, target)
    assert "**met**" in sentence and "+4.0 ± 0.0 over 2 paired seeds" in sentence


def test_target_also_needs_both_rows_above_the_centered_box_when_asked():
    rows = {
        "ADL": _row([0], [70.0], [72.0]),
        "CAM": _row([0], [60.0], [65.0]),
    }
    box = {"test_at_val": 68.3}
    target = Target("ADL", "CAM", margin=3.0, above_centered_box=True, source="issue #12")
    verdict = target_verdict(rows, box, target)
    assert verdict["differences"] == [10.0]
    assert verdict["beats_box"] == {"ADL": True, "CAM": False}
    assert verdict["met"] is False  # the margin holds, but CAM is under the box
    sentence = target_sentence(rows, box, target)
    assert sentence.startswith("Target (issue #12): ADL >= CAM +3 MaxBoxAccV2")
    assert "**missed**" in sentence and "CAM 65.0 (not above)" in sentence


def test_target_of_an_unfinished_row_is_not_measured_yet():
    rows = {"ADL": _row([0], [70.0], [72.0]), "CAM": _row([], [], [])}
    assert target_verdict(rows, None, Target("ADL", "CAM")) == {
        "met": None,
        "differences": [],
        "mean": None,
        "std": None,
    }  # None, not NaN: results.json stays strict JSON
    assert target_sentence(rows, None, Target("ADL", "CAM")).endswith("not measured yet.")
    # Both rows have a seed, but not the same one: nothing is paired yet.
    rows["CAM"] = _row([1], [60.0], [65.0])
    assert target_verdict(rows, None, Target("ADL", "CAM"))["met"] is None


@pytest.mark.parametrize(
    "target,message",
    [
        (Target("ADL", "HaS"), "target rows ['HaS'] are not rows"),
        (Target("ADL", "CAM", metric="top5"), "target metric 'top5' is not one of"),
    ],
)
def test_a_comparison_refuses_a_target_it_cannot_check(target, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Comparison(
            name="t",
            trials={"CAM": ("cam", [{}]), "ADL": ("adl", [{}])},
            data_settings={"d": {}},
            base={"val_per_class": 2},
            target=target,
        )


def _val_result(score, diverged=False):
    if diverged:
        return {"diverged": "Loss became nan at step 24 (epoch 4, precision float32)"}
    return {"splits": {"val": {"maxboxacc_v2": score}}}


def test_a_diverged_trial_is_never_chosen_and_a_row_of_diverged_trials_has_no_final_runs():
    comparison = Comparison(
        name="t",
        trials={"CAM": ("cam", [{"lr": 1}, {"lr": 2}]), "SPG": ("spg", [{"lr": 1}, {"lr": 2}])},
        data_settings={"d": {}},
        base={"val_per_class": 2},
    )
    chosen = comparison.choose(
        {
            # Trial 1 diverged: trial 0 is chosen, whatever its score.
            "CAM": [_val_result(10.0), _val_result(None, diverged=True)],
            "SPG": [_val_result(None, diverged=True), _val_result(None, diverged=True)],
        }
    )
    assert chosen == {"CAM": 0}
    assert [r.row for r in comparison.final_runs(chosen, seeds=(0,))] == ["CAM | d"]


def test_a_diverged_seed_is_counted_and_shown_but_never_averaged():
    from wsol_tf.reproduction.methods_report import diverged_lines, setting_table

    rows = {
        "CAM": _row([0, 1], [60.0, 62.0], [50.0, 52.0]),
        "ADL": {**_row([1], [64.0], [55.0]), "diverged": [0, 2]},
        "SPG": {**_row([], [], []), "diverged": [0]},
    }
    rows["CAM"]["diverged"] = []
    table = setting_table(rows, {}, None, diverged_rows=["HaS"]).splitlines()
    assert table[3].startswith("| ADL | 1 (+2 diverged) | 50.0 | 55.0 | 30.0 | 64.0 |")
    assert table[4].startswith("| SPG | 0 (+1 diverged) | diverged | diverged | diverged |")
    assert table[5] == (
        "| HaS | 0 (every trial diverged) | diverged | diverged | diverged | diverged "
        "| – | – | – | – |"
    )
    order, _ = ranking(rows)
    assert [name for name, *_ in order] == ["ADL", "CAM"]  # SPG has no value to rank
    assert diverged_lines(rows, ["HaS"]) == [
        "Diverged (the loss became NaN or inf, so the run has no metrics): ADL (seeds 0, 2), "
        "SPG (seed 0), HaS (every trial of the selection)."
    ]
    assert diverged_lines({"CAM": rows["CAM"]}) == []
    message = "Loss became nan at step 24 (epoch 4, precision float32); stopped."
    assert diverged_lines({}, {"HaS": message}) == [
        "Diverged (the loss became NaN or inf, so the run has no metrics): HaS (every trial of "
        "the selection; first: Loss became nan at step 24 (epoch 4, precision float32))."
    ]


def test_setting_dependence_says_which_wins_hold_in_every_setting():
    from wsol_tf.reproduction.methods_report import setting_dependence

    tables = {
        "A": {
            "CAM": _row([0, 1], [50.0, 52.0], [0, 0]),
            "ADL": _row([0, 1], [55.0, 58.0], [0, 0]),  # +5, +6: resolved above
            "HaS": _row([0, 1], [49.0, 50.0], [0, 0]),  # -1, -2: resolved below
            "EIL": _row([0, 1], [51.0, 51.0], [0, 0]),  # +1, -1: within the spread
        },
        "B": {
            "CAM": _row([0, 1], [60.0, 60.0], [0, 0]),
            "ADL": _row([0, 1], [50.0, 52.0], [0, 0]),  # -10, -8: resolved below
            "HaS": _row([0, 1], [58.0, 57.0], [0, 0]),  # -2, -3: resolved below
            "EIL": _row([0, 1], [64.0, 61.0], [0, 0]),  # +4, +1 (std 2.1): resolved above
        },
        "C": {"CAM": _row([], [], [])},  # nothing finished: left out
    }
    lines = setting_dependence(tables)
    assert lines[0] == (
        "Best by MaxBoxAccV2: A: ADL 56.5; B: EIL 62.5: the best row depends on the setting."
    )
    assert lines[1] == (
        "- ADL − CAM (MaxBoxAccV2, paired by seed): **its win depends on the setting**: "
        "above in A +5.5 ± 0.7; below in B -9.0 ± 1.4."
    )
    assert lines[2] == (
        "- HaS − CAM (MaxBoxAccV2, paired by seed): below in every setting measured: "
        "below in A -1.5 ± 0.7, B -2.5 ± 0.7."
    )
    assert lines[3] == (
        "- EIL − CAM (MaxBoxAccV2, paired by seed): **its win depends on the setting**: "
        "above in B +2.5 ± 2.1; within the spread in A +0.0 ± 1.4."
    )
    # One seed resolves nothing (and is not called "within the spread": the spread is not
    # measured), and one setting has nothing to compare across.
    one_seed = {s: {r: _row([0], [v], [0]) for r, v in (("CAM", 50.0), ("ADL", 60.0))}
                for s in ("A", "B")}  # fmt: skip
    assert setting_dependence(one_seed)[1].endswith(
        "no difference resolved in any setting: one seed (spread not measured) in A +10.0, B +10.0."
    )
    # Resolved above where 2 seeds ran, one seed elsewhere: above where measured, no
    # claim that the win depends on the setting.
    mixed = {
        "A": tables["A"],
        "D": {r: _row([0], [v], [0]) for r, v in (("CAM", 50.0), ("ADL", 40.0))},
    }
    assert setting_dependence(mixed)[1] == (
        "- ADL − CAM (MaxBoxAccV2, paired by seed): above in every setting measured: "
        "above in A +5.5 ± 0.7; one seed (spread not measured) in D -10.0."
    )
    assert setting_dependence({"A": tables["A"]}) == []


def test_a_partly_finished_ranking_resolves_nothing_against_one_seed_and_says_so():
    rows = {
        "A": _row([0], [62.0], [0]),  # best, one seed: nothing is resolved from it
        "B": _row([0, 1], [59.0, 61.0], [0, 0]),
        "C": _row([0, 1], [40.0, 40.0], [0, 0]),
    }
    order, tied = ranking(rows)
    assert [name for name, *_ in order] == ["A", "B", "C"] and tied == ["B", "C"]
    assert ranking_lines(rows)[1:] == [
        "Not resolved from the best (A) either, the two sharing fewer than 2 seeds (spread "
        "not measured): B, C.",
        "Rows differ in the seeds finished (1: A; 2: B, C), so these means are not over the "
        "same seeds.",
    ]
    rows["A"] = _row([0, 1], [62.0, 62.0], [0, 0])
    rows["B"] = _row([0, 1], [59.0, 62.0], [0, 0])  # -3, 0: t = -1 (1 dof): not resolved
    rows["C"] = _row([0, 1], [40.0, 40.0], [0, 0])  # -22, -22: zero spread, t = -inf
    rows["D"] = _row([1], [61.5], [0])  # one shared seed with the best: not tested
    assert ranking(rows)[1] == ["D", "B"]
    assert ranking_lines(rows)[1:] == [
        "Not resolved from the best (A) by the paired t-test over seeds (p >= 0.05): B.",
        "Not resolved from the best (A) either, the two sharing fewer than 2 seeds (spread "
        "not measured): D.",
        "Rows differ in the seeds finished (1: D; 2: A, B, C), so these means are not over the "
        "same seeds.",
    ]


def _with_readout(row, cams, maxboxacc, top1_loc):
    n = len(cams)
    row["readout"] = {"top1_clas": [50.0] * n, "gt_known_loc": [70.0] * n,
                      "top1_loc": list(top1_loc), "maxboxacc_v2": list(maxboxacc)}  # fmt: skip
    row["readout_tau"] = [0.3] * n
    row["readout_cams"] = list(cams)
    row["diverged"] = []
    return row


def test_the_read_out_chosen_on_val_gets_its_own_row_naming_the_extractors():
    from wsol_tf.reproduction.methods_report import setting_table

    cams = ["gradcampp", "layercam"]
    row = _row([0, 1], [60.0, 62.0], [50.0, 52.0])
    rows = {"CAM": _with_readout(row, cams, [75.0, 77.0], [40.0, 42.0])}
    table = setting_table(rows, {}, None).splitlines()
    assert table[2].startswith("| CAM | 2 | 50.0 ± 0.0 | 51.0 ± 1.4 | 30.0 ± 0.0 | 61.0 ± 1.4 |")
    assert table[3].startswith(
        "| CAM, read-out chosen on val (gradcampp x1, layercam x1) | 2 | 50.0 ± 0.0 | 70.0 ± 0.0 "
        "| 41.0 ± 1.4 | 76.0 ± 1.4 | 0.300 ± 0.000 |"
    )


def test_absolute_targets_are_met_or_missed_at_the_read_out_chosen_on_val():
    from wsol_tf.reproduction.methods_report import absolute_targets

    rows = {"CAM": _with_readout(_row([0, 1], [60.0, 62.0], [50.0, 52.0]),
                                 ["layercam"] * 2, [79.0, 81.0], [60.0, 62.0])}  # fmt: skip
    baseline = {"test_at_val": 69.0}
    (line,) = absolute_targets(rows, baseline, {"maxboxacc_v2": 80.0, "top1_loc": 62.3})
    assert line == (
        "Targets, CAM (the read-out chosen on val, mean of 2): MaxBoxAccV2 80.0 vs >= 80: met; "
        "Top-1 Loc 61.0 vs >= 62.3: missed; GT-known Loc 70.0 vs centered box 69.0: met"
    )
    plain = {"CAM": {**_row([0], [90.0], [60.0]), "readout_cams": []}}
    (line,) = absolute_targets(plain, {"test_at_val": 70.0}, {"maxboxacc_v2": 80.0})
    assert "classic CAM, val threshold" in line and "90.0 vs >= 80: met" in line
    assert "GT-known Loc 60.0 vs centered box 70.0: missed" in line
    assert absolute_targets(rows, baseline, None) == []


def test_a_setting_with_its_own_folder_trains_there_and_runs_carry_the_read_out(tmp_path):
    comparison = Comparison(
        name="t", trials={"CAM": ("cam", [{}])},
        data_settings={"A": {"data_dir": str(tmp_path / "a")}, "B": {"data_dir": "b"}},
        base={"val_per_class": 2}, seeds=(0, 1), readout=True,
    )  # fmt: skip
    runs = comparison.final_runs({"CAM": 0})
    assert [(r.row, r.seed) for r in runs] == [("CAM | A", 0), ("CAM | B", 0), ("CAM | A", 1),
                                               ("CAM | B", 1)]  # fmt: skip
    assert (
        runs[0].settings["data_dir"] == str(tmp_path / "a") and runs[0].settings["dataset"] == "cub"
    )
    assert runs[1].settings["data_dir"].endswith("/b") and runs[1].settings["data_dir"].startswith(
        "/"
    )
    assert all(r.readout for r in runs + comparison.selection_runs())


def test_paired_table_tests_each_row_against_cam_by_seed_under_both_read_outs():
    from wsol_tf.reproduction.methods_report import paired_table

    cam = _with_readout(_row([0, 1, 2], [60.0, 62.0, 61.0], [50.0, 52.0, 51.0]),
                        ["layercam"] * 3, [70.0, 71.0, 72.0], [40.0, 41.0, 42.0])  # fmt: skip
    # ADL: MaxBoxAccV2 +5.0, +5.1, +4.9 (classic: resolved); GT-known +1, -1, +3 (not).
    adl = _with_readout(_row([0, 1, 2], [65.0, 67.1, 65.9], [51.0, 51.0, 54.0]),
                        ["gradcampp"] * 3, [70.0, 73.0, 72.0], [40.0, 41.0, 42.0])  # fmt: skip
    for entry, readouts in ((cam, (70.0, 71.0, 72.0)), (adl, (70.0, 73.0, 72.0))):
        entry["results"] = [{"readout": {"maxboxacc_v2": v, "top1_clas": 50.0,
                                         "gt_known_loc": 0.0, "top1_loc": 0.0}}
                            for v in readouts]  # fmt: skip
    lines = paired_table({"CAM": cam, "ADL": adl})
    assert lines[0].startswith("| method − CAM | Top-1 Clas (classic) |")
    assert "MaxBoxAccV2 (chosen read-out)" in lines[0]
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[0] == "ADL"
    # classic: Top-1 Clas +0 (zero spread, p 1); GT-known +1, -1, +3: mean 1, sd 2,
    # t = 1 / (2 / sqrt 3) = 0.866, p = 1 - t / sqrt(2 + t^2) = 0.478; MaxBoxAccV2 +5.0.
    assert cells[1] == "+0.0 (p 1.00)" and cells[2] == "+1.0 (p 0.48)"
    assert cells[4] == "**+5.0 (p 0.00)**"
    # chosen read-out: MaxBoxAccV2 differences 0, +2, 0: t = 1, p = 1 - 1 / sqrt 3 = 0.42.
    assert cells[8] == "+0.7 (p 0.42)"
    assert "Resolved: ADL above CAM on MaxBoxAccV2 (classic) by +5.0" in lines[-1]
    assert paired_table({"ADL": adl}) == []  # no CAM row: nothing to pair with


def test_overlay_strip_shows_each_row_at_its_first_seed_with_a_grid_on_disk(tmp_path):
    """A run known only from its record has no overlay grid: the row falls back to the next
    seed that has one, and a row with none is left out (grids: 8 images of 24 x 36 px)."""
    import cv2
    import numpy as np

    from wsol_tf.reproduction.methods_report import overlay_strip

    grid = np.zeros((8 * 24, 36, 3), np.uint8)
    grid[:24] = 200  # the strip is the grid's first image
    path = str(tmp_path / "seed2.png")
    cv2.imwrite(path, grid)
    rows = {
        "CAM": {"seeds": [0, 2], "results": [{"overlays": None}, {"overlays": path}]},
        "ADL": {"seeds": [0], "results": [{"overlays": str(tmp_path / "gone.png")}]},
    }
    strip = overlay_strip(rows, str(tmp_path / "strip.png"))
    image = cv2.imread(strip)
    assert image.shape == (24, 220 + 36, 3)  # one row (CAM), label column + image
    assert np.all(image[:, 220:] == 200)
    assert overlay_strip({"ADL": rows["ADL"]}, str(tmp_path / "none.png")) is None


def test_the_answer_names_what_the_paired_tests_resolve_under_each_read_out():
    from wsol_tf.reproduction.methods_report import answer_lines

    cam = _with_readout(_row([0, 1, 2], [60.0, 62.0, 61.0], [50.0, 52.0, 51.0]),
                        ["layercam"] * 3, [70.0, 71.0, 72.0], [40.0, 41.0, 42.0])  # fmt: skip
    # HaS - CAM, classic MaxBoxAccV2: +5.0, +5.1, +4.9 (mean 5, sd 0.1, t = 86.6: above);
    # chosen read-out: 0, +2, 0 (t = 1, p 0.42: not resolved); Top-1 Loc (chosen) -2 each.
    has = _with_readout(_row([0, 1, 2], [65.0, 67.1, 65.9], [51.0, 51.0, 54.0]),
                        ["gradcampp"] * 3, [70.0, 73.0, 72.0], [38.0, 39.0, 40.0])  # fmt: skip
    cutmix = _with_readout(_row([0], [50.0], [40.0]), ["layercam"], [60.0], [30.0])
    for entry in (cam, has, cutmix):
        entry["results"] = [
            {"readout": {"maxboxacc_v2": m, "top1_loc": t, "top1_clas": 50.0,
                         "gt_known_loc": 70.0}}
            for m, t in zip(entry["readout"]["maxboxacc_v2"], entry["readout"]["top1_loc"],
                            strict=True)
        ]  # fmt: skip
    rows = {"CAM": cam, "HaS": has, "CutMix": cutmix}
    lines = answer_lines(rows, seeds=(0, 1, 2))
    assert lines[0] == "Provisional: CutMix has fewer than the 3 planned seeds."
    assert lines[1].startswith(
        "Under the classic CAM read-out, paired with CAM by seed (t-test, p < 0.05): above "
        "CAM: HaS (MaxBoxAccV2 +5.0, p < 0.001); below CAM: none. Largest MaxBoxAccV2 "
        "difference from CAM: HaS +5.0 (95% CI +4.8 to +5.2"
    )  # half-width 4.303 * 0.1 / sqrt 3 = 0.25
    # chosen read-out: HaS Top-1 Loc -2, -2, -2: zero spread, resolved below.
    assert "below CAM: HaS (Top-1 Loc -2.0, p < 0.001)." in lines[2]
    assert "Largest MaxBoxAccV2 difference from CAM: HaS +0.7 (95% CI" in lines[2]
    # read-out minus classic, MaxBoxAccV2: CAM +10 +9 +11 (mean 10, sd 1, half-width 2.48);
    # HaS +5, +5.9, +6.1 (mean 5.67); CutMix +10.
    assert lines[3] == (
        "For scale: choosing the read-out on validation moved CAM's own MaxBoxAccV2 by +10.0 "
        "(95% CI +7.5 to +12.5, p 0.003), and the other rows' by +5.7 to +10.0."
    )
    assert answer_lines({"HaS": has}) == []  # no CAM row: nothing to answer with
