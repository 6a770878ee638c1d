"""The method comparison's section of RESULTS.md: per data setting, every method at its
validation-chosen hyperparameters and CAM threshold, with a centered-box baseline, cost
against CAM, a ranking and what the seed spread cannot resolve.

Library code: explicit arguments. Numbers come from runner results (`run_config` with
`extra_splits=("val",)`), nothing is recomputed on test to choose anything.
"""

from __future__ import annotations

import math
import os

import numpy as np

VAL_CHOSEN = ("top1_clas", "gt_known_loc", "top1_loc", "maxboxacc_v2")
TITLES = {
    "top1_clas": "Top-1 Clas",
    "gt_known_loc": "GT-known Loc",
    "top1_loc": "Top-1 Loc",
    "maxboxacc_v2": "MaxBoxAccV2",
}


def val_chosen(result) -> dict:
    """Test metrics at the CAM threshold that is best (GT-known Loc) on validation.

    Returns:
        {"tau": the threshold, "top1_clas", "gt_known_loc", "top1_loc" at it on test,
        "maxboxacc_v2" (threshold-free), "val_gt_known_loc" at tau}. A run record
        (`wsol_tf.reproduction.records`) holds no curves but this dict, computed when the
        record was written: it is returned as held.
    """
    from wsol_tf.evaluation.chosen_threshold import best_threshold

    if result.get("val_chosen"):
        return dict(result["val_chosen"])

    tau = best_threshold(result["splits"]["val"])  # the lowest threshold on ties
    val = result["splits"]["val"]["curve"]
    test = result["curve"]
    best = val["thresholds"].index(tau)
    index = test["thresholds"].index(tau)
    return {
        "tau": tau,
        "top1_clas": result["top1_clas"],
        "gt_known_loc": test["gt_known_loc"][index],
        "top1_loc": test["top1_loc"][index],
        "maxboxacc_v2": result["maxboxacc_v2"],
        "val_gt_known_loc": val["gt_known_loc"][best],
    }


def _mean_std(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return math.nan, math.nan, 0
    mean = float(np.mean(values))
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return mean, std, len(values)


def _cell(mean, std, n, digits=1):
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f}" if n <= 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"


def setting_rows(runs, results, split_row):
    """{setting: {row: {"values": {metric: [per seed]}, "tau": [...], "train_seconds": [...],
    "seeds": [...], "results": [...], "diverged": [seeds]}}} of the finished runs, in plan
    order ("seeds" are those with metrics; a diverged run's seed is in "diverged")."""
    table = {}
    for run in runs:
        result = results.get(run.key)
        row, setting = split_row(run.row)
        entry = table.setdefault(setting, {}).setdefault(
            row,
            {"values": {m: [] for m in VAL_CHOSEN}, "tau": [], "train_seconds": [],
             "seeds": [], "results": [], "diverged": [],
             "readout": {m: [] for m in VAL_CHOSEN}, "readout_tau": [], "readout_cams": []},
        )  # fmt: skip
        if result is None:
            continue
        if result.get("diverged"):  # no metrics: counted, never averaged
            entry["diverged"].append(run.seed)
            continue
        chosen = val_chosen(result)
        for metric in VAL_CHOSEN:
            entry["values"][metric].append(chosen[metric])
        entry["tau"].append(chosen["tau"])
        entry["train_seconds"].append(result["train_seconds"])
        entry["seeds"].append(run.seed)
        entry["results"].append(result)
        readout = result.get("readout")
        if readout:  # the same run at the read-out chosen on its val split
            for metric in VAL_CHOSEN:
                entry["readout"][metric].append(readout[metric])
            entry["readout_tau"].append(readout["threshold"])
            entry["readout_cams"].append(readout["cam"])
    return table


def ranking(rows, metric="maxboxacc_v2"):
    """Rows sorted by mean `metric` (best first), with which differences the seeds resolve.

    Returns:
        [(row, mean, std, n)], and the rows not resolved from the best: the paired t-test of
        row - best over the seeds both have (`paired_test.paired_t_test`) has p >= 0.05, or
        they share fewer than 2 seeds (no spread to test against).
    """
    from wsol_tf.reproduction.paired_test import paired_t_test

    stats = [(row, *_mean_std(entry["values"][metric])) for row, entry in rows.items()]
    stats = [s for s in stats if math.isfinite(s[1])]
    stats.sort(key=lambda s: -s[1])
    if not stats:
        return [], []
    best = per_seed(rows[stats[0][0]], metric)
    tied = []
    for row, *_ in stats[1:]:
        mine = per_seed(rows[row], metric)
        test = paired_t_test([mine[s] - best[s] for s in mine if s in best])
        if not test["resolved"]:
            tied.append(row)
    return stats, tied


def ranking_lines(rows, metric="maxboxacc_v2") -> list:
    """The ranking sentence, then what the seeds can and cannot resolve of it."""
    order, tied = ranking(rows, metric)
    if not order:
        return []
    ranked = " > ".join(f"{row} {mean:.1f}" for row, mean, _, _ in order)
    lines = [f"Ranking by {TITLES[metric]}: {ranked}."]
    if all(n <= 1 for *_, n in order):
        # One value per row has no spread: a zero std would call every gap resolved.
        lines.append(
            "One seed per row: the seed-to-seed spread is not measured, so no difference "
            "in this ranking is resolved by it."
        )
    elif tied:
        best = per_seed(rows[order[0][0]], metric)
        shared = {row: len(set(per_seed(rows[row], metric)) & set(best)) for row in tied}
        tested = [row for row in tied if shared[row] >= 2]
        single = [row for row in tied if shared[row] < 2]
        if tested:
            lines.append(
                f"Not resolved from the best ({order[0][0]}) by the paired t-test over seeds "
                f"(p >= 0.05): {', '.join(tested)}."
            )
        if single:
            lines.append(
                f"Not resolved from the best ({order[0][0]}) either, the two sharing fewer "
                f"than 2 seeds (spread not measured): {', '.join(single)}."
            )
    counts = {n for *_, n in order}
    if len(counts) > 1:  # a comparison still running: some rows have more seeds than others
        by_count = {c: [row for row, *_, n in order if n == c] for c in sorted(counts)}
        lines.append(
            "Rows differ in the seeds finished ("
            + "; ".join(f"{c}: {', '.join(rows)}" for c, rows in by_count.items())
            + "), so these means are not over the same seeds."
        )
    return lines


def target_verdict(rows, baseline, target) -> dict:
    """Whether a data setting's rows meet the comparison's `Target` (after the fact).

    Args:
        rows: one setting of `setting_rows`.
        baseline: `centered_box_on_val_and_test`'s dict (or None).
        target: a `wsol_tf.reproduction.comparison.Target`.

    Returns:
        {"met": True/False, or None while no seed has finished for both rows; "differences": the
        per-seed `row - over` of the seeds both rows have, "mean", "std", and "beats_box":
        {row: whether its mean GT-known Loc beats the centered box} when the target asks}.
    """
    unmeasured = {"met": None, "differences": [], "mean": None, "std": None}
    if target.row not in rows or target.over not in rows:
        return unmeasured
    values = {
        name: dict(zip(rows[name]["seeds"], rows[name]["values"][target.metric], strict=True))
        for name in (target.row, target.over)
    }
    seeds = [s for s in values[target.row] if s in values[target.over]]
    if not seeds:  # no seed finished for both rows yet
        return unmeasured
    differences = [values[target.row][s] - values[target.over][s] for s in seeds]
    mean, std, _ = _mean_std(differences)
    met = mean >= target.margin
    verdict = {"met": met, "differences": differences, "mean": mean, "std": std}
    if target.above_centered_box and baseline:
        beats = {
            name: _mean_std(rows[name]["values"]["gt_known_loc"])[0] > baseline["test_at_val"]
            for name in (target.row, target.over)
        }
        verdict["beats_box"] = beats
        verdict["met"] = met and all(beats.values())
    return verdict


def target_sentence(rows, baseline, target, verdict=None) -> str:
    """One line: the target, the measured difference, and **met** / **missed** (`verdict`:
    `target_verdict`'s result when the caller has it already)."""
    title = TITLES[target.metric]
    goal = f"{target.row} >= {target.over} {target.margin:+g} {title} (mean over paired seeds)"
    if target.above_centered_box:
        goal += ", both above the centered box on GT-known Loc"
    source = f" ({target.source})" if target.source else ""
    verdict = verdict or target_verdict(rows, baseline, target)
    if verdict["met"] is None:
        return f"Target{source}: {goal}: not measured yet."
    n = len(verdict["differences"])
    per_seed = ", ".join(f"{d:+.1f}" for d in verdict["differences"])
    spread = f" ± {verdict['std']:.1f}" if n > 1 else ""
    measured = (
        f"{target.row} − {target.over} {title} {verdict['mean']:+.1f}{spread} over {n} paired "
        f"seed{'s' if n > 1 else ''} (per seed: {per_seed})"
    )
    if "beats_box" in verdict:
        box = baseline["test_at_val"]
        measured += f"; GT-known Loc against the centered box ({box:.1f}): " + ", ".join(
            f"{name} {_mean_std(rows[name]['values']['gt_known_loc'])[0]:.1f} "
            f"({'above' if above else 'not above'})"
            for name, above in verdict["beats_box"].items()
        )
    word = "**met**" if verdict["met"] else "**missed**"
    return f"Target{source}: {goal}: {word}. {measured}."


def paired_vs(rows, row, reference, metric):
    """Per-seed `row - reference` of `metric` over the seeds both have: (mean, std, n)."""
    mine = dict(zip(rows[row]["seeds"], rows[row]["values"][metric], strict=True))
    theirs = dict(zip(rows[reference]["seeds"], rows[reference]["values"][metric], strict=True))
    return _mean_std([mine[s] - theirs[s] for s in mine if s in theirs])


def per_seed(entry, metric, readout=False) -> dict:
    """{seed: value} of one row's finished runs: at the classic CAM's val threshold, or at the
    read-out chosen on val (`readout`; seeds whose run has none are left out)."""
    if not readout:
        return dict(zip(entry["seeds"], entry["values"][metric], strict=True))
    return {
        seed: result["readout"][metric]
        for seed, result in zip(entry["seeds"], entry["results"], strict=True)
        if result.get("readout")
    }


def paired_tests(rows, row, reference="CAM", readout=False) -> dict:
    """{metric: `paired_test.paired_t_test` of row - reference over the seeds both have}."""
    from wsol_tf.reproduction.paired_test import paired_t_test

    tests = {}
    for metric in VAL_CHOSEN:
        mine = per_seed(rows[row], metric, readout)
        theirs = per_seed(rows[reference], metric, readout)
        tests[metric] = paired_t_test([mine[s] - theirs[s] for s in mine if s in theirs])
    return tests


def paired_table(rows, reference="CAM") -> list:
    """Markdown: every row minus `reference`, paired by seed, per metric, under the classic
    read-out and (when the runs have one) the read-out chosen on val; a cell is the mean
    difference and the paired t-test's p, in bold when p < 0.05. [] without the reference."""
    if reference not in rows or not rows[reference]["seeds"]:
        return []
    readouts = [False] + ([True] if rows[reference].get("readout_cams") else [])
    header = [f"method − {reference}"] + [
        f"{TITLES[m]} ({'chosen read-out' if r else 'classic'})"
        for r in readouts
        for m in VAL_CHOSEN
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    resolved = []
    for row, entry in rows.items():
        if row == reference or not entry["seeds"]:
            continue
        cells = [row]
        for readout in readouts:
            for metric, test in paired_tests(rows, row, reference, readout).items():
                if test["n"] == 0:
                    cells.append("–")
                    continue
                text = f"{test['mean']:+.1f}" + (f" (p {test['p']:.2f})" if test["p"] is not None
                                                 else " (1 seed)")  # fmt: skip
                cells.append(f"**{text}**" if test["resolved"] else text)
                if test["resolved"]:
                    at = "chosen read-out" if readout else "classic"
                    resolved.append(
                        f"{row} {test['direction']} {reference} on {TITLES[metric]} ({at}) by "
                        f"{test['mean']:+.1f}, p {test['p']:.3f}"
                    )
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Paired t-test over seeds (the per-seed differences, n - 1 degrees of freedom, two-sided;"
        " resolved at p < 0.05, in bold; with 3 seeds that needs |t| > 4.30). Resolved: "
        + ("; ".join(resolved) if resolved else "none") + ".",
    ]  # fmt: skip
    return lines


def _effects(rows, reference, readout):
    """{row: {metric: paired test of row - reference}} under one read-out."""
    return {
        row: paired_tests(rows, row, reference, readout)
        for row, entry in rows.items()
        if row != reference and entry["seeds"]
    }


def _p(p) -> str:
    return "p < 0.001" if p < 0.001 else f"p {p:.3f}"


def _resolved_phrase(effects, direction) -> str:
    parts = []
    for row, tests in effects.items():
        hits = [
            f"{TITLES[m]} {t['mean']:+.1f}, {_p(t['p'])}"
            for m, t in tests.items()
            if t["direction"] == direction
        ]
        if hits:
            parts.append(f"{row} ({'; '.join(hits)})")
    return ", ".join(parts) or "none"


def _ci_phrase(test) -> str:
    if test["ci"] is None:
        return f"{test['mean']:+.1f} (n = {test['n']}: not tested)"
    low, high = test["ci"]
    return f"{test['mean']:+.1f} (95% CI {low:+.1f} to {high:+.1f}, {_p(test['p'])})"


def answer_lines(rows, reference="CAM", seeds=None, metric="maxboxacc_v2") -> list:
    """The answer to "does any method beat `reference`?", generated from the paired t-tests
    over seeds (so it always says what the table below says): per read-out, the rows
    resolved above and below the reference on each metric (p < 0.05), the row with the
    largest mean `metric` gain and its 95% interval, and, for scale, what choosing the
    read-out on validation moved the reference itself by. `seeds`: the planned seeds; rows
    with fewer finished say the answer is provisional. [] without the reference row."""
    from wsol_tf.reproduction.paired_test import paired_t_test

    if reference not in rows or not rows[reference]["seeds"]:
        return []
    lines = []
    short = [row for row, e in rows.items() if seeds and len(e["seeds"]) < len(seeds)]
    if short:
        lines.append(
            f"Provisional: {', '.join(short)} ha{'s' if len(short) == 1 else 've'} fewer than "
            f"the {len(seeds)} planned seeds."
        )
    readouts = [(False, "classic CAM read-out")]
    if rows[reference].get("readout_cams"):
        readouts.append((True, "read-out chosen on validation (`--cam=auto`)"))
    for readout, name in readouts:
        effects = _effects(rows, reference, readout)
        if not effects:
            continue
        tested = {row: t[metric] for row, t in effects.items() if t[metric]["n"]}
        sentence = (
            f"Under the {name}, paired with {reference} by seed (t-test, p < 0.05): above "
            f"{reference}: {_resolved_phrase(effects, 'above')}; below {reference}: "
            f"{_resolved_phrase(effects, 'below')}."
        )
        if tested:
            top = max(tested, key=lambda row: tested[row]["mean"])
            sentence += (
                f" Largest {TITLES[metric]} difference from {reference}: {top} "
                f"{_ci_phrase(tested[top])}."
            )
        lines.append(sentence)
    if len(readouts) > 1:
        scale = []
        for row in [reference] + [r for r in rows if r != reference]:
            classic = per_seed(rows[row], metric)
            chosen = per_seed(rows[row], metric, readout=True)
            test = paired_t_test([chosen[s] - classic[s] for s in chosen if s in classic])
            if test["n"]:
                scale.append((row, test))
        if scale:
            own = scale[0][1]
            others = [t["mean"] for row, t in scale[1:]]
            lines.append(
                f"For scale: choosing the read-out on validation moved {reference}'s own "
                f"{TITLES[metric]} by {_ci_phrase(own)}"
                + (
                    f", and the other rows' by {min(others):+.1f} to {max(others):+.1f}."
                    if others
                    else "."
                )
            )
    return lines


def setting_dependence(tables, reference="CAM", metric="maxboxacc_v2") -> list:
    """Across data settings: the best row of each, and for every row whether it is above or
    below `reference` in all of them or only in some (its win depends on the setting).

    A difference counts as resolved when it is paired by seed over at least 2 seeds and its
    mean exceeds the std of the per-seed differences; otherwise it is "within the spread"
    (or, with one paired seed, "one seed": its spread is not measured). A win "depends on
    the setting" only when it is resolved above in one setting and measured (>= 2 seeds) but
    not above in another.

    Args:
        tables: {setting: rows} (`setting_rows`).
    Returns:
        Markdown lines (none when fewer than two settings have results).
    """
    orders = {s: ranking(rows, metric)[0] for s, rows in tables.items()}
    best = {s: order[0] for s, order in orders.items() if order}
    settings = list(best)
    if len(settings) < 2:
        return []
    title = TITLES[metric]
    lines = [
        f"Best by {title}: "
        + "; ".join(f"{s}: {best[s][0]} {best[s][1]:.1f}" for s in settings)
        + (
            f" (the same row, {best[settings[0]][0]}, in every setting)."
            if len({b[0] for b in best.values()}) == 1
            else ": the best row depends on the setting."
        )
    ]
    rows_seen = dict.fromkeys(r for s in settings for r in tables[s] if r != reference)
    for row in rows_seen:
        above, below, within, single = [], [], [], []
        for setting in settings:
            rows = tables[setting]
            if row not in rows or reference not in rows:
                continue
            mean, std, n = paired_vs(rows, row, reference, metric)
            if not math.isfinite(mean):
                continue
            text = f"{setting} {mean:+.1f}" + (f" ± {std:.1f}" if n > 1 else "")
            if n < 2:
                single.append(text)
            elif abs(mean) <= std:
                within.append(text)
            else:
                (above if mean > 0 else below).append(text)
        if not (above or below or within or single):
            continue
        # "every setting measured": every setting with >= 2 paired seeds.
        if above and (below or within):
            verdict = "**its win depends on the setting**"
        elif above:
            verdict = "above in every setting measured"
        elif below and not within:
            verdict = "below in every setting measured"
        elif below:
            verdict = "below in some settings, not resolved in the others"
        else:
            verdict = "no difference resolved in any setting"
        groups = (
            ("above", above),
            ("below", below),
            ("within the spread", within),
            ("one seed (spread not measured)", single),
        )
        parts = [f"{word} in " + ", ".join(group) for word, group in groups if group]
        verdict += ": " + "; ".join(parts)
        lines.append(f"- {row} − {reference} ({title}, paired by seed): {verdict}.")
    return lines


def diverged_lines(rows, diverged_rows=()) -> list:
    """What diverged in a setting (a loss that became NaN or inf stops its run; the row is
    reported, not dropped, and its other seeds still count)."""
    parts = [
        f"{row} (seed{'s' if len(e['diverged']) > 1 else ''} "
        f"{', '.join(str(seed) for seed in e['diverged'])})"
        for row, e in rows.items()
        if e.get("diverged")
    ]
    # {row: message} from the report; a plain list of rows says no more than that.
    messages = diverged_rows if isinstance(diverged_rows, dict) else dict.fromkeys(diverged_rows)
    parts += [
        # The trainer's message up to its advice (which names this machine's checkpoint path).
        f"{row} (every trial of the selection"
        + (f"; first: {message.split('; stopped')[0]}" if message else "")
        + ")"
        for row, message in messages.items()
        if row not in rows
    ]
    if not parts:
        return []
    return [
        f"Diverged (the loss became NaN or inf, so the run has no metrics): {', '.join(parts)}."
    ]


def setting_table(rows, costs, baseline, diverged_rows=()):
    """Markdown table of one data setting; `diverged_rows` are rows every trial of which
    diverged in the selection (so they have no final runs)."""
    header = ["method", "seeds"] + [TITLES[m] for m in VAL_CHOSEN]
    header += ["val τ", "train s", "params vs CAM", "FLOPs vs CAM (train fwd)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    cam_cost = costs.get("CAM")
    for row, entry in rows.items():
        n = len(entry["seeds"])
        diverged = entry.get("diverged", [])
        cells = [row, str(n) + (f" (+{len(diverged)} diverged)" if diverged else "")]
        if diverged and not n:
            cells += ["diverged"] * len(VAL_CHOSEN)
        else:
            cells += [_cell(*_mean_std(entry["values"][m])) for m in VAL_CHOSEN]
        cells.append(_cell(*_mean_std(entry["tau"]), digits=3))
        cells.append(_cell(*_mean_std(entry["train_seconds"]), digits=0))
        cost = costs.get(row)
        if cost and cam_cost:
            cells.append(f"{cost['params'] - cam_cost['params']:+,}")
            inference = cost["inference_flops"] / cam_cost["inference_flops"] - 1
            training = cost["training_flops"] / cam_cost["training_flops"] - 1
            cells.append(f"{inference:+.1%} ({training:+.1%})")
        else:
            cells += ["–", "–"]
        lines.append("| " + " | ".join(cells) + " |")
        picked = entry.get("readout_cams") or []
        if picked:
            counts = ", ".join(f"{c} x{picked.count(c)}" for c in dict.fromkeys(picked))
            cells = [f"{row}, read-out chosen on val ({counts})", str(len(picked))]
            cells += [_cell(*_mean_std(entry["readout"][m])) for m in VAL_CHOSEN]
            cells += [_cell(*_mean_std(entry["readout_tau"]), digits=3), "–", "–", "–"]
            lines.append("| " + " | ".join(cells) + " |")
    for row in diverged_rows:
        if row not in rows:
            cells = [row, "0 (every trial diverged)"] + ["diverged"] * len(VAL_CHOSEN)
            lines.append("| " + " | ".join(cells + ["–"] * 4) + " |")
    if baseline:
        lines.append(
            f"| centered box (size chosen on val: {baseline['val_fraction']:.2f} of each "
            f"side) | – | – | {baseline['test_at_val']:.1f} | – | – | – | – | 0 | – |"
        )
    return "\n".join(lines)


def centered_box_on_val_and_test(config) -> dict:
    """The centered box with its size chosen on the validation split, scored on test (and the
    optimistic test-chosen size beside it)."""
    from wsol_tf.data.datasets import load_split
    from wsol_tf.reproduction.baselines import centered_box_baseline

    options = config.split_options()
    val = centered_box_baseline(
        load_split(config.dataset, config.data_dir, "val", **options),
        config.image_size, config.eval_resize_size,
    )  # fmt: skip
    test = centered_box_baseline(
        load_split(config.dataset, config.data_dir, "test", **options),
        config.image_size, config.eval_resize_size,
    )  # fmt: skip
    index = int(np.argmax(val["accuracy"]))
    return {
        "val_fraction": val["fractions"][index],
        "test_at_val": test["accuracy"][index],
        "test_best": test["best"],
        "test_best_fraction": test["best_fraction"],
    }


def overlay_strip(rows, path):
    """One row of overlays per method, stacked; the path or None. Each row shows its first
    seed whose overlay grid is on disk (a run known only from its record has none), labelled
    with that seed; a row with none is left out."""
    import cv2

    from wsol_tf.evaluation.visualize import save_png

    pictures = []
    for row, entry in rows.items():
        seeded = zip(entry["seeds"], entry["results"], strict=True)  # appended together
        found = next(
            ((seed, result["overlays"]) for seed, result in seeded
             if result.get("overlays") and os.path.isfile(result["overlays"])),
            None,
        )  # fmt: skip
        if found is None:
            continue
        seed, overlay = found
        image = cv2.imread(overlay)[..., ::-1]  # RGB
        height = image.shape[0] // 8 if image.shape[0] >= 8 else image.shape[0]
        strip = image[:height]  # the grid's first image: image | CAM | overlay
        label = np.full((height, 220, 3), 255, np.uint8)
        cv2.putText(label, f"{row[:14]} (seed {seed})", (6, height // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
        pictures.append(np.concatenate([label, strip], axis=1))
    if not pictures:
        return None
    width = max(p.shape[1] for p in pictures)
    pictures = [np.pad(p, ((0, 0), (0, width - p.shape[1]), (0, 0)), constant_values=255)
                for p in pictures]  # fmt: skip
    return str(save_png(path, np.concatenate(pictures, axis=0)))


def row_costs(runs, results, split_row):
    """{row: model_cost} from each row's first finished run (parameters and FLOPs)."""
    from wsol_tf.reproduction.cost import model_cost
    from wsol_tf.runs.config import TrainConfig

    costs = {}
    for run in runs:
        row, _ = split_row(run.row)
        if row in costs or run.key not in results:
            continue
        config = TrainConfig.from_settings(**{**run.settings, "seed": run.seed})
        num_classes = results[run.key].get("num_classes") or _num_classes(config)
        costs[row] = model_cost(config, num_classes)
    return costs


def _num_classes(config):
    from wsol_tf.data.datasets import load_split

    return load_split(
        config.dataset, config.data_dir, "train", **config.split_options()
    ).num_classes


def methods_section(module, runs, selection, results, figures_dir, md_dir):
    """(markdown lines, results.json entry, figures, summary lines) of a method comparison.

    Args:
        module: the experiment module (its COMPARISON, TITLE).
        runs: the final runs (each row's chosen trial on every setting and seed).
        selection: the selection runs (every trial, seed 0, default setting).
        results: {run key: runner result}.
        figures_dir, md_dir: where figures go and where the markdown lives.
    """
    from wsol_tf.runs.config import TrainConfig

    comparison = module.COMPARISON
    lines, figures, summary = [], {}, []
    entry = {"title": module.TITLE, "settings": {}, "selection": {}}
    lines += ["### Hyperparameters chosen on validation", ""]
    lines += ["| method | trials (validation MaxBoxAccV2) | chosen |", "|---|---|---|"]
    diverged_rows = {}  # row -> its first trial's message: every trial diverged, no final runs
    for row, (method, trials) in comparison.trials.items():
        scores, messages = [], []
        for index in range(len(trials)):
            run = next((r for r in selection if r.row == comparison.trial_label(row, index)), None)
            result = run and results.get(run.key)
            if result and result.get("diverged"):
                scores.append("diverged")
                messages.append(result["diverged"])
            else:
                scores.append(result and result["splits"]["val"][comparison.selection_metric])
        finished = [i for i, s in enumerate(scores) if isinstance(s, float | int)]
        chosen = max(finished, key=lambda i: (scores[i], -i)) if finished else None
        if scores and all(s == "diverged" for s in scores):
            diverged_rows[row] = messages[0]
        described = [
            f"{_describe(t) or 'defaults'}: "
            + ("–" if s is None else s if isinstance(s, str) else f"{s:.1f}")
            for t, s in zip(trials, scores, strict=True)
        ]
        lines.append(
            f"| {row} (`--method={method}`) | {'; '.join(described)} | "
            f"{'–' if chosen is None else _describe(trials[chosen]) or 'defaults'} |"
        )
        entry["selection"][row] = {"scores": scores, "chosen": chosen}
    lines.append("")
    costs = row_costs(runs, results, comparison.split_row)
    tables = setting_rows(runs, results, comparison.split_row)
    for setting, rows in tables.items():
        first = next((r for r in runs if comparison.split_row(r.row)[1] == setting), None)
        config = TrainConfig.from_settings(**{**first.settings, "seed": first.seed})
        baseline = centered_box_on_val_and_test(config)
        lines += [f"### {setting}", "", setting_table(rows, costs, baseline, diverged_rows), ""]
        order, _ = ranking(rows)
        if order:
            lines += ranking_lines(rows)
            lines.append(
                f"Centered box (size chosen on val) GT-known Loc {baseline['test_at_val']:.1f} "
                f"(test-chosen, optimistic: {baseline['test_best']:.1f}); methods whose "
                f"GT-known Loc beats it: "
                + (", ".join(
                    row for row, e in rows.items()
                    if _mean_std(e["values"]["gt_known_loc"])[0] > baseline["test_at_val"]
                ) or "none")
                + "."
            )  # fmt: skip
            summary.append(f"{comparison.name} / {setting}: best {order[0][0]} ({order[0][1]:.1f})")
        lines += diverged_lines(rows, diverged_rows)
        paired = paired_table(rows)
        if paired:
            lines += ["", "Paired differences from CAM:", "", *paired, ""]
        if comparison.target is not None:
            verdict = target_verdict(rows, baseline, comparison.target)
            sentence = target_sentence(rows, baseline, comparison.target, verdict)
            lines.append(sentence)
            summary.append(f"{comparison.name} / {setting}: {sentence}")
            entry.setdefault("target", {})[setting] = verdict
        for target_line in absolute_targets(
            rows, baseline, getattr(module, "TARGETS", {}).get(setting)
        ):
            lines.append(target_line)
            summary.append(f"{comparison.name} / {setting}: {target_line}")
        slug = "".join(c if c.isalnum() else "_" for c in setting).strip("_")
        # Named by table and setting: two comparisons may share a setting's label.
        figure = f"{comparison.name}_{slug}"
        path = overlay_strip(rows, os.path.join(figures_dir, f"{figure}.png"))
        if path:
            figures[figure] = path
            lines += ["", f"![overlays, {setting}]({os.path.relpath(path, md_dir)})"]
        lines.append("")
        entry["settings"][setting] = {
            row: {
                "seeds": e["seeds"],
                **{m: e["values"][m] for m in VAL_CHOSEN},
                "tau": e["tau"],
                "train_seconds": e["train_seconds"],
                "diverged_seeds": e["diverged"],
                "readout": {
                    **{m: e["readout"][m] for m in VAL_CHOSEN},
                    "tau": e["readout_tau"],
                    "cams": e["readout_cams"],
                },
            }
            for row, e in rows.items()
        }
        entry["settings"][setting]["centered_box"] = baseline
    answer = _answer_block(module, tables, sorted({r.seed for r in runs}))
    if answer:
        lines = answer + lines
        entry["answer"] = answer
    across = setting_dependence(tables) + setting_dependence(tables, metric="gt_known_loc")
    if across:
        lines += ["### Across the data settings", "", *across, ""]
        entry["across_settings"] = across
    entry["costs"] = costs
    entry["every_trial_diverged"] = diverged_rows
    return lines, entry, figures, summary


def _answer_block(module, tables, seeds) -> list:
    """The section's "The answer": the experiment's written answer (`ANSWER`, when it has
    one), then the generated one (`answer_lines`) per data setting; `seeds`: the planned
    seeds of the final runs."""
    generated = []
    for setting, rows in tables.items():
        found = answer_lines(rows, seeds=seeds)
        if found:
            generated += [f"*{setting}.*"] if len(tables) > 1 else []
            generated += [f"- {line}" for line in found] + [""]
    written = " ".join(getattr(module, "ANSWER", "").split())
    if not generated and not written:
        return []
    lines = ["### The answer", ""]
    if written:
        lines += [written, ""]
    if generated:
        lines += ["From the paired tests below (generated):", "", *generated]
    return lines


def absolute_targets(rows, baseline, targets) -> list:
    """One line per row: each `targets` metric (mean over seeds, at the read-out chosen on
    validation when the runs have one, else at the classic CAM's val threshold) met or
    missed, and GT-known Loc against the centered box chosen on validation."""
    if not targets:
        return []
    lines = []
    for row, entry in rows.items():
        readout = bool(entry.get("readout_cams"))
        values = entry["readout"] if readout else entry["values"]
        parts = []
        for metric, level in targets.items():
            mean = _mean_std(values[metric])[0]
            verdict = "met" if math.isfinite(mean) and mean >= level else "missed"
            parts.append(f"{TITLES[metric]} {mean:.1f} vs >= {level:g}: {verdict}")
        mean = _mean_std(values["gt_known_loc"])[0]
        box = baseline["test_at_val"]
        verdict = "met" if math.isfinite(mean) and mean > box else "missed"
        parts.append(f"GT-known Loc {mean:.1f} vs centered box {box:.1f}: {verdict}")
        at = "the read-out chosen on val" if readout else "classic CAM, val threshold"
        lines.append(f"Targets, {row} ({at}, mean of {len(values[metric])}): " + "; ".join(parts))
    return lines


def _describe(settings):
    return ", ".join(f"{k}={v}" for k, v in settings.items())
