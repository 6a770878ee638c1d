"""Experiment configs with flag overrides, and the sweep runner."""

import csv
import json
import os
import subprocess
import sys

import pytest
from absl import flags

from wsol_tf import experiments, sweep
from wsol_tf import train as train_cli
from wsol_tf.data import synthetic
from wsol_tf.runs.config import TrainConfig


@pytest.fixture
def parsed_flags():
    def parse(*args):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["train", *args])
        return train_cli.config_from_flags()

    yield parse
    flags.FLAGS.unparse_flags()


def test_every_table3_row_has_both_datasets_and_names_its_paper_number():
    names = experiments.available(("table3_",))
    assert len(names) == 8
    others = set(experiments.available()) - set(names)
    assert {"cub_pretrained_adl", "cub_pretrained_cam"} <= others
    for name in names:
        module = __import__(f"wsol_tf.experiments.{name}", fromlist=["CONFIGS"])
        assert set(module.CONFIGS) == {"cub", "imagenet"}
        assert "Paper:" in module.__doc__ and "make train" in module.__doc__


def test_every_method_config_validates_and_names_its_command_and_paper(parsed_flags):
    names = experiments.available(("method_",))
    assert {"method_eil", "method_entropy", "method_rdap", "method_rfga"} <= set(names)
    for name in names:
        module = __import__(f"wsol_tf.experiments.{name}", fromlist=["CONFIGS"])
        assert "Paper:" in module.__doc__
        assert f"python -m wsol_tf.train --experiment={name} --dataset=synthetic" in module.__doc__
        assert "synthetic" in module.CONFIGS
        for settings in module.CONFIGS.values():
            TrainConfig.from_settings(**settings, data_dir="unused").validate()
    config = parsed_flags("--experiment=method_eil", "--dataset=cub", "--eil_weight=0.5")
    assert (config.model, config.method, config.batch_size) == ("vgg16gap", "eil", 64)
    assert config.method_params["weight"] == 0.5 and config.resolved_positions == ("block4_pool",)


@pytest.mark.parametrize("method", ["has", "cutmix", "acol", "spg"])
def test_every_wsolevaluation_baseline_has_a_config_naming_its_numbers(method, parsed_flags):
    name = f"wsolevaluation_{method}"
    assert name in experiments.available()
    module = __import__(f"wsol_tf.experiments.{name}", fromlist=["CONFIGS"])
    assert set(module.CONFIGS) == {"cub", "synthetic"}
    assert "wsolevaluation (README table, CUB MaxBoxAccV2" in module.__doc__
    assert f"--experiment={name}" in module.__doc__ and "Hyperparameters:" in module.__doc__
    for dataset in module.CONFIGS:
        config = parsed_flags(f"--experiment={name}", f"--dataset={dataset}", "--data_dir=x")
        assert (config.experiment, config.method) == (name, method)
        config.validate()
    cub = parsed_flags(f"--experiment={name}", "--dataset=cub", "--data_dir=x")
    assert (cub.model, cub.lr, cub.batch_size, cub.lr_groups) == ("inceptionv3", 0.01, 64, "new_10")
    synthetic = parsed_flags(f"--experiment={name}", "--dataset=synthetic")
    assert (synthetic.model, synthetic.epochs, synthetic.image_size) == ("tinyvgg", 12, (96, 96))
    if method == "has":
        params = synthetic.make_method().params
        assert params.patch_sizes == (0, 7, 14, 19, 24) and params.hide_prob == 0.5


def test_explicit_flags_override_the_experiment(parsed_flags):
    config = parsed_flags(
        "--experiment=table3_vgg16gap_adl", "--dataset=cub", "--lr=0.5", "--epochs=2"
    )
    assert config.experiment == "table3_vgg16gap_adl"
    assert (config.model, config.method, config.dataset) == ("vgg16gap", "adl", "cub")
    assert config.lr == 0.5 and config.epochs == 2  # typed flags win
    assert config.weight_decay == 5e-4 and config.steps_per_epoch == 1000  # recipe kept
    assert config.lr_decay_epochs == (30, 60, 90, 100) and config.lr_groups == "pretrained_0.1"
    assert config.image_size == (224, 224) and config.batch_size == 32


def test_auto_picks_the_table3_recipe_only_when_one_exists(parsed_flags):
    config = parsed_flags("--experiment=auto", "--model=resnet50se", "--dataset=imagenet")
    assert config.experiment == "table3_resnet50se_adl" and config.steps_per_epoch == 8000
    assert config.lr == 0.01 and config.weight_decay == 1e-4
    plain = parsed_flags("--experiment=auto", "--model=tinyvgg", "--lr=0.3")
    assert plain.experiment is None and plain.lr == 0.3 and plain.dataset == "synthetic"


def test_unknown_experiment_lists_the_valid_ones():
    with pytest.raises(
        ValueError, match="valid: auto, none, table3_inceptionv3_adl, table3_inceptionv3_cam"
    ):
        experiments.lookup("table9_x", "tinyvgg", "adl", "cub")


def test_parse_grid_and_points():
    grid = sweep.parse_grid(["drop_rate=0.25,0.5", "--gamma=0.8,0.9,1.0"])
    assert grid == [("drop_rate", ["0.25", "0.5"]), ("gamma", ["0.8", "0.9", "1.0"])]
    points = sweep.grid_points(grid)
    assert len(points) == 6 and points[0] == [("drop_rate", "0.25"), ("gamma", "0.8")]
    assert sweep.point_name(points[-1]) == "drop_rate-0.5_gamma-1.0"
    for bad in (["drop_rate"], ["=0.5"], ["workdir=a"], ["a=1", "a=2"], []):
        with pytest.raises(ValueError):
            sweep.parse_grid(bad)
    # Were accepted: the empty value dropped, the repeated one trained once and listed twice.
    with pytest.raises(ValueError, match=r"'drop_rate=0.5,,0.7': an empty value"):
        sweep.parse_grid(["drop_rate=0.5,,0.7"])
    with pytest.raises(ValueError, match=r"'drop_rate=0.5,0.5': value 0.5 is given twice"):
        sweep.parse_grid(["drop_rate=0.5,0.5"])


def test_a_sweep_out_folder_of_other_files_is_refused_and_left_as_it_was(tmp_path):
    # Was: --out=<a folder of photos> wrote results.csv / results.md there (replacing the
    # user's own of those names) and the runs among the photos.
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"x")
    (photos / "results.md.bak").write_text("mine")
    with pytest.raises(ValueError, match=r"photos is not a sweep's folder: it holds a.jpg, "):
        sweep.check_sweep_folder(str(photos))
    assert sorted(os.listdir(photos)) == ["a.jpg", "results.md.bak"]
    sweep.check_sweep_folder(str(tmp_path / "new"))  # new, empty, or an earlier sweep's: fine
    earlier = tmp_path / "earlier"
    (earlier / "drop_rate-0.5").mkdir(parents=True)
    (earlier / "drop_rate-0.5" / "config.json").write_text("{}")
    (earlier / ".wsol_tf.lock").write_text("")
    sweep.check_sweep_folder(str(earlier))  # a killed sweep: a run folder, no table yet
    (earlier / "notes.txt").write_text("the user's")
    (earlier / "results.csv").write_text("")
    sweep.check_sweep_folder(str(earlier))  # its tables say it is a sweep's: notes stay


@pytest.mark.parametrize(
    "arg, message",
    [
        ("--threshold=5", "--threshold=5.0 must be in [0, 1)"),
        ("--cam_curve_interval=0", "--cam_curve_interval=0.0 must be in [1e-05, 1)"),
        # np.arange(0, 1, 1e-9): a grid of 1e9 thresholds, killed for memory.
        ("--cam_curve_interval=1e-9", "--cam_curve_interval=1e-09 must be in [1e-05, 1)"),
        ("--batch_size=0", "--batch_size=0 must be >= 1"),
        ("--num_pictures=-1", "--num_pictures=-1 must be >= 0"),
        ("--cam=nope", "cam='nope': valid choices are classic"),
    ],
)
def test_evaluate_args_out_of_range_are_refused_before_any_point_trains(arg, message):
    # They were only converted to numbers: every point trained, then failed its evaluation.
    assert sweep.parse_evaluate_args(["--threshold=0.3", "--cam=gradcam"]) == {
        "cam_threshold": 0.3, "cam": "gradcam"}  # fmt: skip
    with pytest.raises(ValueError) as error:
        sweep.parse_evaluate_args([arg])
    assert str(error.value).startswith("--evaluate_args: ") and message in str(error.value)


def test_write_tables(tmp_path):
    rows = [
        {"run": "a", "gamma": "0.8", "status": "ok", "top1_loc": 12.5},
        {"run": "b", "gamma": "0.9", "status": "failed (train exit 2)"},
    ]
    csv_path, md_path = sweep.write_tables(rows, str(tmp_path))
    with open(csv_path) as f:
        read = list(csv.DictReader(f))
    assert read[0]["top1_loc"] == "12.5" and read[1]["top1_loc"] == ""
    lines = open(md_path).read().splitlines()
    assert lines[0] == "| run | gamma | status | top1_loc |"
    assert lines[2] == "| a | 0.8 | ok | 12.50 |"


@pytest.mark.slow
def test_sweep_runs_each_point_and_resumes(tmp_path):
    data = tmp_path / "tiny"
    synthetic.generate(
        data, num_classes=3, train_per_class=8, test_per_class=4, seed=1, min_size=40, max_size=64
    )
    command = [
        sys.executable, "-m", "wsol_tf.sweep", "--grid", "drop_rate=0.25,1.0",
        f"--out={tmp_path / 'sweep'}", "--", "--dataset=cub", f"--data_dir={data}",
        "--epochs=1", "--batch_size=8", "--image_size=32,48", "--notensorboard",
    ]  # fmt: skip
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    with open(tmp_path / "sweep" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["drop_rate"] for r in rows] == ["0.25", "1.0"]
    assert all(r["status"] == "ok" and 0 <= float(r["top1_loc"]) <= 100 for r in rows)
    for value in ("0.25", "1.0"):
        with open(tmp_path / "sweep" / f"drop_rate-{value}" / "config.json") as f:
            assert json.load(f)["method_params"]["drop_rate"] == float(value)
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0
    with open(tmp_path / "sweep" / "results.csv") as f:
        assert [r["reused"] for r in csv.DictReader(f)] == ["True", "True"]  # nothing re-run
    # Other flags into the same --out: the old result is not reported as the new one (one
    # point of the grid is enough to show it).
    one_point = [a if a != "drop_rate=0.25,1.0" else "drop_rate=1.0" for a in command]
    changed = subprocess.run(
        [*one_point, "--lr=0.05"], capture_output=True, text=True, env=env, timeout=300
    )
    assert changed.returncode == 0, changed.stdout[-2000:] + changed.stderr[-2000:]
    with open(tmp_path / "sweep" / "results.csv") as f:
        assert [(r["drop_rate"], r["reused"]) for r in csv.DictReader(f)] == [("1.0", "False")]
    with open(tmp_path / "sweep" / "drop_rate-1.0" / "config.json") as f:
        assert json.load(f)["lr"] == 0.05
    assert list((tmp_path / "sweep").glob("drop_rate-1.0.replaced-*"))  # the old run, kept
