"""The CAM threshold of localize/export: the run's validation choice for the same checkpoint and
extractor, else the paper's 0.2 (hand-written metrics.json files, no TensorFlow)."""

import json

import pytest

from wsol_tf.evaluation.chosen_threshold import best_threshold, validation_threshold
from wsol_tf.evaluation.extractors.spec import CamSpec
from wsol_tf.evaluation.readout import resolve


def resolve_threshold(given, workdir, cam_spec, checkpoint):
    """(threshold, source) as localize/export resolve them for a given --cam."""
    _, threshold, source = resolve(workdir, checkpoint, CamSpec(**cam_spec), given, "given")
    return threshold, source.split("; ", 1)[1]


CLASSIC = CamSpec("classic").to_dict()


def _metrics(split="val", cam=CLASSIC, checkpoint="/elsewhere/run/checkpoints/ckpt-48"):
    return {
        "split": split,
        "cam_spec": cam,
        "checkpoint": checkpoint,
        "best_threshold": 0.25,  # the coarse list's best; the fine curve wins
        "curve": {"thresholds": [0.1, 0.2, 0.3, 0.4], "gt_known_loc": [10.0, 40.0, 60.0, 60.0]},
    }


def _write(workdir, name, value):
    path = workdir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return str(path)


def test_the_validation_choice_is_the_first_best_of_the_fine_curve(tmp_path):
    assert best_threshold(_metrics()) == 0.3  # 0.3 and 0.4 tie: the lower one
    assert best_threshold({"best_threshold": 0.15}) == 0.15  # no curve: the list's best
    path = _write(tmp_path, "eval_val/metrics.json", _metrics())
    # Matched by checkpoint name (the workdir moved since) and by extractor, tuples or lists.
    cam = {**CLASSIC, "tta_scales": (0.75, 1.0, 1.25)}
    assert validation_threshold(str(tmp_path), cam, str(tmp_path / "ckpt-48")) == (0.3, path)
    assert resolve_threshold(None, str(tmp_path), cam, "ckpt-48") == (
        0.3,
        f"threshold chosen on validation ({path})",
    )
    assert resolve_threshold(0.5, str(tmp_path), cam, "ckpt-48") == (0.5, "threshold: --threshold")


@pytest.mark.parametrize(
    "metrics",
    [
        _metrics(split="test"),  # never a threshold chosen on test
        _metrics(cam={**CLASSIC, "name": "gradcam"}),  # another extractor's maps
        _metrics(checkpoint="/run/checkpoints/ckpt-40"),  # another checkpoint
        {**_metrics(), "curve": None, "best_threshold": 1.5},  # out of range
        # A flat curve (no threshold localizes the one validation image) chooses nothing.
        {**_metrics(), "curve": {"thresholds": [0.1, 0.2, 0.3], "gt_known_loc": [0.0] * 3}},
        [1, 2],  # not a metrics dict
    ],
)
def test_anything_but_this_runs_validation_falls_back_to_the_papers_threshold(tmp_path, metrics):
    _write(tmp_path, "eval_val/metrics.json", metrics)
    _write(tmp_path, "metrics.json", _metrics(split="test"))
    assert validation_threshold(str(tmp_path), CLASSIC, "ckpt-48") is None
    threshold, source = resolve_threshold(None, str(tmp_path), CLASSIC, "ckpt-48")
    assert threshold == 0.2 and source == "threshold: the paper's 0.2"


def test_a_corrupt_metrics_file_is_passed_over_for_the_next(tmp_path):
    (tmp_path / "eval_val").mkdir()
    (tmp_path / "eval_val" / "metrics.json").write_text("{not json")
    path = _write(tmp_path, "metrics.json", _metrics())  # evaluate --split=val into the workdir
    assert validation_threshold(str(tmp_path), CLASSIC, "ckpt-48") == (0.3, path)
