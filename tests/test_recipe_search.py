"""The stage-by-stage recipe search (wsol_tf.recipe_search): what each stage trains, what it
keeps, and that the experiment that drives it is a valid recipe."""

import types

import pytest

from wsol_tf import recipe_search


def experiment(stages, selection=("top1_loc", "maxboxacc_v2")):
    return types.SimpleNamespace(START={"lr": 1.0, "opt": "sgd"}, STAGES=stages,
                                 SELECTION=selection)  # fmt: skip


def fake_runs(scores, defaults=None):
    """run_trial returning the score of each settings' name (missing: diverged)."""
    seen = []

    def run_trial(settings):
        name = recipe_search.run_name(settings, {"lr": 1.0, "opt": "sgd"}, defaults)
        seen.append(name)
        if name not in scores:
            return {"run": name, "status": "diverged"}
        loc, box = scores[name]
        return {"run": name, "status": "ok", "top1_loc": loc, "maxboxacc_v2": box}

    return run_trial, seen


def test_each_stage_builds_on_the_best_and_the_incumbent_wins_ties():
    stages = (
        ("lr", [{"lr": 0.5}, {"lr": 2.0}]),
        ("opt", lambda best: [{"opt": "adam", "lr": best["lr"] / 10}]),
        ("tie", [{"opt": "adamw"}]),
    )
    scores = {"start": (50, 60), "lr-0.5": (55, 60), "lr-2.0": (55, 70),
              "lr-0.2_opt-adam": (60, 61), "lr-0.2_opt-adamw": (60, 61)}  # fmt: skip
    run_trial, seen = fake_runs(scores)
    best, stages_out = recipe_search.search(experiment(stages), run_trial, lambda s: None,
                                            print_fn=lambda *_: None)  # fmt: skip
    # lr-2.0 beats lr-0.5 on the second metric; the callable sees lr 2.0; adamw only ties.
    assert [s["chosen"] for s in stages_out] == ["lr-2.0", "lr-0.2_opt-adam", "lr-0.2_opt-adam"]
    assert best == {"lr": 0.2, "opt": "adam"}
    assert seen == ["start", "lr-0.5", "lr-2.0", "lr-2.0", "lr-0.2_opt-adam",
                    "lr-0.2_opt-adam", "lr-0.2_opt-adamw"]  # fmt: skip


def test_a_diverged_trial_is_never_kept_and_a_stage_with_no_finished_trial_stops():
    run_trial, _ = fake_runs({"start": (10, 10)})
    best, stages = recipe_search.search(experiment((("lr", [{"lr": 9.0}]),)), run_trial,
                                        lambda s: None, print_fn=lambda *_: None)  # fmt: skip
    assert stages[0]["chosen"] == "start" and best["lr"] == 1.0
    run_trial, _ = fake_runs({})
    with pytest.raises(RuntimeError, match="no trial finished"):
        recipe_search.search(experiment((("lr", [{"lr": 9.0}]),)), run_trial, lambda s: None)


def test_run_names_say_what_differs_from_the_start():
    start = {"lr": 1.0, "image_size": (224, 224)}
    assert recipe_search.run_name(dict(start), start) == "start"
    assert recipe_search.run_name({"lr": 2.0, "image_size": (192, 160)}, start) == (
        "image_size-192x160_lr-2.0"
    )


def test_every_stage_of_the_cub_search_is_a_valid_config():
    from wsol_tf.experiments import recipe_search_cub as search_cub
    from wsol_tf.runs.config import TrainConfig

    start = dict(search_cub.START)
    for _, trials in search_cub.STAGES:
        for override in recipe_search.stage_trials(trials, start):
            settings = {**start, **override, "dataset": "synthetic", "data_dir": None}
            TrainConfig.from_settings(**settings).validate()


def test_a_setting_given_at_its_default_is_the_same_trial_as_leaving_it_out():
    stages = (("opt", [{"opt": "sgd", "lr": 1.0}, {"opt": "adam"}]),)
    run_trial, seen = fake_runs({"start": (1, 1), "opt-adam": (2, 2)}, {"opt": "sgd"})
    recipe_search.search(experiment(stages), run_trial, lambda s: None, print_fn=lambda *_: None,
                         defaults={"opt": "sgd"})  # fmt: skip
    assert seen == ["start", "opt-adam"]


def test_a_trial_that_sets_a_start_value_back_to_its_default_gets_its_own_name():
    start = {"freeze": True, "lr": 1.0}
    assert recipe_search.run_name({"lr": 1.0}, start, {"freeze": False}) == "freeze-False"
    assert recipe_search.run_name({"lr": 1.0, "freeze": True}, start, {"freeze": False}) == "start"
