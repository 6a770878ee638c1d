"""Run records (`wsol_tf.reproduction.records`): a finished run of a reproduction survives the
loss of its workdir. No training: results are built by hand, training is replaced by a fake
that fails (or counts) when called."""

import json
import os
import shutil

import pytest

from wsol_tf.reproduction import records
from wsol_tf.reproduction import runs as reproduction
from wsol_tf.reproduction.runs import Run

GRID = [round(i / 1000, 6) for i in range(1000)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from wsol_tf.data import synthetic

    folder = tmp_path_factory.mktemp("records") / "data"
    synthetic.generate(folder, num_classes=2, train_per_class=3, test_per_class=1, seed=1,
                       min_size=32, max_size=40)  # fmt: skip
    return str(folder)


def a_run(data, readout=False, **settings):
    base = {"method": "cam", "dataset": "cub", "data_dir": data, "epochs": 3, "val_per_class": 1}
    return Run("methods_synthetic", "CAM [trial 0]", 0, {**base, **settings}, readout=readout)


def config_of(run, root):
    return reproduction._config(run, reproduction.run_workdir(str(root), run))


def curve(peak):
    """A fine curve whose GT-known Loc peaks at threshold `peak`."""
    gt = [50.0 - abs(t - peak) * 10 for t in GRID]
    return {"thresholds": GRID, "gt_known_loc": gt, "top1_loc": [v / 2 for v in gt],
            "best_threshold": peak, "best_gt_known_loc": 50.0}  # fmt: skip


def a_result(run, root, **extra):
    """What `train_and_evaluate` returns for a finished run (with its heavy fields)."""
    config = config_of(run, root)
    workdir = config.workdir
    per_threshold = [{"threshold": t, "gt_known_loc": 1.0, "top1_loc": 1.0} for t in GRID[::10]]
    result = {
        "top1_clas": 80.0, "gt_known_loc": 40.0, "top1_loc": 30.0, "maxboxacc_v2": 35.0,
        "best_threshold": 0.2, "curve": curve(0.3), "per_threshold": per_threshold,
        "checkpoint": os.path.join(workdir, "checkpoints", "ckpt-3"),
        "overlays": os.path.join(workdir, "overlays.png"),
        "pictures": {"chosen": os.path.join(workdir, "overlays.png")},
        "splits": {"val": {"maxboxacc_v2": 33.0, "curve": curve(0.25),
                           "overlays": os.path.join(workdir, "eval_val", "overlays.png")}},
        "workdir": workdir, "config": json.loads(config.to_json()),
        "identity": records.wanted_identity(config, ("val",)),
        "train_seconds": 12.0, "train_seconds_wall": 13.0, "paused_epochs": 0,
        "evaluate_seconds": 2.0, "reused": False,
        "key": run.key, "table": run.table, "row": run.row, "seed": run.seed,
    }  # fmt: skip
    return {**result, **extra}


def test_a_record_round_trips_small_and_without_the_workdirs_paths(tmp_path, data):
    from wsol_tf.reproduction.methods_report import val_chosen

    run = a_run(data)
    result = a_result(run, tmp_path / "w")
    path = records.write_record(str(tmp_path / "records"), run, result)
    assert path == str(tmp_path / "records" / f"{run.dirname}.json")
    text = open(path).read()
    assert json.loads(text) == json.loads(json.dumps(json.loads(text), sort_keys=True))
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert len(text) < len(json.dumps(result, indent=2)) / 5 and len(text) < 20_000
    found = records.find_record(
        str(tmp_path / "records"), run, config_of(run, tmp_path / "w"), ("val",)
    )
    assert found["reused"] == "record" and found["record_file"] == path
    for name in ("top1_clas", "maxboxacc_v2", "train_seconds", "evaluate_seconds", "identity"):
        assert found[name] == result[name]
    assert found["splits"]["val"]["maxboxacc_v2"] == 33.0
    # Paths into the workdir are None (overlays; pictures dropped), curves and per-threshold
    # lists are dropped, and what the method report reads from them is kept.
    assert found["overlays"] is None and found["splits"]["val"]["overlays"] is None
    assert "pictures" not in found and "per_threshold" not in found
    assert "thresholds" not in found["curve"] and found["curve"]["best_threshold"] == 0.3
    assert val_chosen(found) == val_chosen(result) and val_chosen(found)["tau"] == 0.25
    # Writing the same result again leaves the file as it is.
    before = os.stat(path).st_mtime_ns
    records.write_record(str(tmp_path / "records"), run, result)
    assert os.stat(path).st_mtime_ns == before


def test_a_record_of_another_identity_is_not_used(tmp_path, data):
    run = a_run(data)
    records.write_record(str(tmp_path / "records"), run, a_result(run, tmp_path / "w"))
    other = a_run(data, lr=0.5)  # another setting: another run
    assert (
        records.find_record(
            str(tmp_path / "records"), other, config_of(other, tmp_path / "w"), ("val",)
        )
        is None
    )
    # The same run evaluated otherwise (no extra split) is another result too.
    assert (
        records.find_record(str(tmp_path / "records"), run, config_of(run, tmp_path / "w"), ())
        is None
    )
    # The same name but a record of other settings (e.g. an edited experiment): not used.
    stale = a_result(run, tmp_path / "w")
    stale["identity"]["config"]["epochs"] = 99
    records.write_record(str(tmp_path / "records"), run, stale)
    assert (
        records.find_record(
            str(tmp_path / "records"), run, config_of(run, tmp_path / "w"), ("val",)
        )
        is None
    )


def test_a_record_is_used_when_only_the_workdir_and_data_folder_differ(tmp_path, data):
    run = a_run(data)
    records.write_record(str(tmp_path / "records"), run, a_result(run, tmp_path / "w"))
    # Another checkout: the same data (same content) in another folder, another --workdir.
    copy = shutil.copytree(data, tmp_path / "elsewhere" / "data")
    moved = a_run(str(copy))
    assert moved.key != run.key  # the key holds the data folder's path
    config = config_of(moved, tmp_path / "other_workdir")
    found = records.find_record(str(tmp_path / "records"), moved, config, ("val",))
    assert found is not None and found["top1_clas"] == 80.0
    # Reports see this machine's paths (train commands, the runs' workdirs).
    assert found["config"]["data_dir"] == str(copy) and found["workdir"] == config.workdir
    # Data of other content in that folder is other data.
    classes = os.path.join(copy, "classes.txt")
    with open(classes) as f:
        text = f.read()
    with open(classes, "w") as f:
        f.write(text.replace("001.", "001.Renamed", 1))
    assert records.find_record(str(tmp_path / "records"), moved, config, ("val",)) is None


def test_a_run_with_a_readout_needs_a_record_that_holds_one(tmp_path, data):
    run = a_run(data, readout=True)
    config = config_of(run, tmp_path / "w")
    folder = str(tmp_path / "records")
    records.write_record(folder, run, a_result(run, tmp_path / "w"))
    assert records.find_record(folder, run, config, ("val",)) is None
    readout = {
        "cam": "classic",
        "threshold": 0.25,
        "top1_clas": 80.0,
        "gt_known_loc": 41.0,
        "top1_loc": 31.0,
        "maxboxacc_v2": 35.0,
        "overlays": "/gone/eval_readout/o.png",
    }
    records.write_record(folder, run, a_result(run, tmp_path / "w", readout=readout))
    found = records.find_record(folder, run, config, ("val",))
    assert found["readout"] == {**readout, "overlays": None}
    # A diverged run has no read-out to hold: its record is the run's result.
    records.write_record(folder, run, a_result(run, tmp_path / "w", diverged="Loss became nan"))
    assert records.find_record(folder, run, config, ("val",))["diverged"] == "Loss became nan"


def no_training(monkeypatch):
    from wsol_tf.reproduction import runner

    def fails(*args, **kwargs):
        raise AssertionError("trained a run that has a record")

    monkeypatch.setattr(runner, "run_config", fails)


def test_execute_reuses_the_record_of_a_run_whose_workdir_is_gone(tmp_path, data, monkeypatch):
    run = a_run(data)
    folder = str(tmp_path / "records")
    records.write_record(folder, run, a_result(run, tmp_path / "lost"))
    no_training(monkeypatch)
    root = str(tmp_path / "fresh_clone")
    lines = []
    results = reproduction.execute([run], root, print_fn=lines.append, records_dir=folder)
    assert results[run.key]["reused"] == "record" and results[run.key]["top1_clas"] == 80.0
    assert "(reused from its record)" in lines[-1]
    assert not os.path.exists(os.path.join(root, "runs"))
    # --report_only finds it too; without records it finds nothing.
    assert reproduction.execute([run], root, print_fn=lines.append, reuse_only=True,
                                records_dir=folder)[run.key]["reused"] == "record"  # fmt: skip
    assert "1 of 1 runs finished (1 reused from their records)" in lines[-1]
    assert reproduction.execute([run], root, print_fn=lines.append, reuse_only=True) == {}
    # A worker process (--jobs > 1) gets the records folder too.
    assert reproduction._worker((run, root, 1, folder, True))["reused"] == "record"


def test_a_run_finished_in_its_workdir_writes_its_record(tmp_path, data, monkeypatch):
    from wsol_tf.reproduction.runner import RESULT_FILE

    run = a_run(data)
    root = tmp_path / "w"
    config = config_of(run, root)
    os.makedirs(config.workdir)
    result = a_result(run, root)
    with open(os.path.join(config.workdir, RESULT_FILE), "w") as f:
        json.dump({k: v for k, v in result.items() if k != "reused"}, f)
    no_training(monkeypatch)
    folder = tmp_path / "records"
    results = reproduction.execute([run], str(root), print_fn=lambda _: None,
                                   records_dir=str(folder))  # fmt: skip
    assert results[run.key]["reused"] is True  # from its workdir, before any record
    written = json.loads((folder / f"{run.dirname}.json").read_text())
    assert written["top1_clas"] == 80.0 and "reused" not in written
    assert written["workdir"] == config.workdir  # informational only


def test_fresh_trains_again_and_overwrites_the_record(tmp_path, data, monkeypatch):
    from wsol_tf.reproduction import runner

    run = a_run(data)
    folder = str(tmp_path / "records")
    records.write_record(folder, run, a_result(run, tmp_path / "w"))
    trained = []

    def train(config, **kwargs):
        trained.append(config.workdir)
        return {**a_result(run, tmp_path / "w"), "top1_clas": 90.0, "reused": False}

    monkeypatch.setattr(runner, "run_config", train)
    lines = []
    results = reproduction.execute(
        [run], str(tmp_path / "w"), print_fn=lines.append, records_dir=folder, use_records=False
    )
    assert len(trained) == 1 and results[run.key]["reused"] is False
    assert "(trained 12 s)" in lines[-1]
    assert json.loads(open(records.record_path(folder, run)).read())["top1_clas"] == 90.0
