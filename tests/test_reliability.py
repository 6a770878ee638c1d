"""Issue 16: a run's folder is its identity; never mix two runs, never lose finished work,
never answer bad input with a traceback.

Everything runs on small generated fixtures: one tiny dataset, one tiny trained run (two
epochs, a checkpoint every step) shared by the module, and copies of them made broken on
purpose. Command-line runs are used only where the exit status and the message are the
subject; they refuse before TensorFlow is imported, which one test enforces by putting a
`tensorflow` that cannot be imported on the path.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import CUB_MINI, needs_cub_mini

from wsol_tf import evaluation, training
from wsol_tf.data import synthetic
from wsol_tf.data.cub import load_cub
from wsol_tf.runs.config import TrainConfig

IMAGE_SIZE = (32, 48)  # non-square on purpose
SETTINGS = dict(
    model="tinyvgg", dataset="cub", method="adl", epochs=2, batch_size=8, lr=0.01,
    image_size=IMAGE_SIZE, seed=3, log_every=1, checkpoint_every_steps=1, tensorboard=False,
)  # fmt: skip


def config_for(data_dir, workdir, **overrides):
    return TrainConfig.from_settings(
        **{**SETTINGS, "data_dir": str(data_dir), "workdir": str(workdir), **overrides}
    )


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    """A finished 2-epoch run (3 steps an epoch, a checkpoint every step); tests copy it."""
    workdir = tmp_path_factory.mktemp("run") / "w"
    training.train(config_for(tiny_data, workdir), print_fn=lambda _: None)
    return str(workdir)


def copy_of(folder, tmp_path, name="copy"):
    target = tmp_path / name
    shutil.copytree(folder, target)
    return str(target)


def snapshot(folder):
    """{relative path: sha1} of every file under `folder`."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha1(f.read()).hexdigest()
    return found


def broken_copy(tiny_data, tmp_path, file, line, text):
    """A copy of the dataset with line `line` (1-based) of `file` replaced by `text`."""
    root = tmp_path / "broken"
    shutil.copytree(tiny_data, root)
    lines = (root / file).read_text().splitlines()
    lines[line - 1] = text
    (root / file).write_text("\n".join(lines) + "\n")
    return str(root)


def run_cli(*args, env=None, timeout=180):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    result.seconds = time.perf_counter() - started
    return result


def error_lines(result):
    """stderr without TensorFlow's start-up chatter."""
    return [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith(("I0000", "WARNING: All log messages", "W0000"))
    ]


# --- 1. data loss ----------------------------------------------------------------------------


def test_train_into_another_runs_workdir_changes_nothing_and_names_the_differences(
    trained, tiny_data, tmp_path
):
    workdir = copy_of(trained, tmp_path)
    before = snapshot(workdir)
    config = config_for(tiny_data, workdir, method="cam", lr=0.05)
    with pytest.raises(ValueError, match=r"holds another run.*lr \(0.01 -> 0.05\).*method"):
        training.train(config, print_fn=lambda _: None)
    assert snapshot(workdir) == before  # config.json, classes.json, checkpoints untouched


def test_evaluate_checks_its_output_folder_before_the_work(trained, tmp_path, monkeypatch):
    from wsol_tf.evaluation import evaluator

    def no_work(*args, **kwargs):
        raise AssertionError("the evaluation ran before the output folder was checked")

    monkeypatch.setattr(evaluator, "evaluate_model", no_work)
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(OSError, match="cannot write"):
        evaluation.evaluate(trained, out_dir=str(tmp_path / "a_file" / "out"), print_fn=print)


# --- 2. silent mixing --------------------------------------------------------------------------


def test_resume_with_other_settings_or_data_is_refused_naming_them(trained, tiny_data, tmp_path):
    workdir = copy_of(trained, tmp_path)
    before = snapshot(workdir)
    with pytest.raises(ValueError, match=r"differs in: adl.drop_rate \(0.75 -> 0.5\); lr"):
        training.train(config_for(tiny_data, workdir, lr=0.05, drop_rate=0.5, epochs=3))
    with pytest.raises(ValueError, match=r"differs in: seed \(3 -> 4\)"):
        training.train(config_for(tiny_data, workdir, seed=4, epochs=3))
    other_data = tmp_path / "other_data"
    synthetic.generate(other_data, num_classes=3, train_per_class=9, test_per_class=1, seed=1,
                       min_size=40, max_size=64)  # fmt: skip
    with pytest.raises(ValueError, match=r"differs in: data .*24 images, 3 classes -> cub: 27"):
        training.train(config_for(other_data, workdir, epochs=3))
    assert snapshot(workdir) == before


def test_fewer_epochs_than_done_is_refused_and_as_many_is_a_no_op(trained, tiny_data, tmp_path):
    workdir = copy_of(trained, tmp_path)
    before = snapshot(workdir)
    with pytest.raises(ValueError, match=r"--epochs=1: .* already trained 2 epochs \(step 6\)"):
        training.train(config_for(tiny_data, workdir, epochs=1))
    lines = []
    history = training.train(config_for(tiny_data, workdir, log_every=5), print_fn=lines.append)
    assert [h["epoch"] for h in history] == [1, 2]
    assert any("nothing to do" in line for line in lines)
    assert snapshot(workdir) == before


def test_a_fork_with_nothing_left_to_train_is_refused_before_anything_is_written(
    trained, tiny_data, tmp_path
):
    # It trained nothing and wrote no checkpoint: exit 0 and a workdir evaluate refused.
    fork = tmp_path / "fork"
    with pytest.raises(ValueError, match=r"has trained 6 steps, as many as this run's 6; ask"):
        training.train(config_for(tiny_data, fork, lr=0.001, epochs=2), fork_from=trained)
    assert not fork.exists()


def test_a_finished_run_whose_last_checkpoint_lost_its_files_trains_that_step_again(
    trained, tiny_data, tmp_path
):
    # It said "already trained to epoch 2 (step 6); nothing to do", and evaluate then used
    # step 5's weights for good.
    workdir = copy_of(trained, tmp_path)
    os.remove(os.path.join(workdir, "checkpoints", "ckpt-6.index"))
    lines = []
    history = training.train(config_for(tiny_data, workdir), print_fn=lines.append)
    assert not any("nothing to do" in line for line in lines)
    assert [h["epoch"] for h in history] == [1, 2]
    assert os.path.isfile(os.path.join(workdir, "checkpoints", "ckpt-6.index"))


def test_run_length_fields_may_differ_on_resume(trained, tiny_data):
    from wsol_tf.training import workdir as run_folder

    old = TrainConfig.load(trained)
    longer = config_for(tiny_data, trained, epochs=5, log_every=7, keep_checkpoints=1,
                        checkpoint_every_steps=0, steps_per_loop=2)  # fmt: skip
    assert run_folder.differences(old, longer) == []
    cosine = TrainConfig.from_settings(**{**json.loads(old.to_json()), "lr_schedule": "cosine"})
    assert "epochs (2 -> 5)" in run_folder.differences(cosine, config_for(
        tiny_data, trained, epochs=5, lr_schedule="cosine"))  # fmt: skip
    assert run_folder.differences(old, config_for(tiny_data, trained, steps_per_epoch=2)) == [
        "steps_per_epoch (null -> 2)"
    ]


@pytest.mark.slow
def test_noresume_moves_the_old_run_aside_and_fork_continues_its_weights(
    trained, tiny_data, tmp_path
):
    workdir = copy_of(trained, tmp_path)
    kept = snapshot(workdir)
    lines = []
    history = training.train(
        config_for(tiny_data, workdir, lr=0.05, epochs=1), resume=False, print_fn=lines.append
    )
    assert len(history) == 1 and TrainConfig.load(workdir).lr == 0.05
    (aside,) = tmp_path.glob("copy.replaced-*")
    assert snapshot(aside) == kept  # the old run, whole
    assert any("moved to" in line for line in lines)
    fork = tmp_path / "fork"
    lines = []
    history = training.train(
        config_for(tiny_data, fork, lr=0.001, epochs=3), fork_from=trained, print_fn=lines.append
    )
    assert any(line.startswith(f"Forked from {trained}") for line in lines)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[0]["run"] == trained and "run" not in history[2]
    assert json.loads((fork / "run.json").read_text())["forked_from"]["step"] == 6


# --- 3. stale results: the runner's key is the full config plus the data by content ---------


def test_runner_identity_follows_the_data_not_its_folder_name(tiny_data, tmp_path):
    from wsol_tf.reproduction.runner import identity

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    config = config_for(data, tmp_path / "w")
    first = identity(config)
    assert identity(config) == first
    split = dict(line.split() for line in open(data / "train_test_split.txt"))
    test_id = int(next(i for i, flag in split.items() if flag == "0"))
    lines = (data / "bounding_boxes.txt").read_text().splitlines()
    lines[test_id - 1] = lines[test_id - 1].rsplit(" ", 1)[0] + " 3.0"  # a test box changes
    (data / "bounding_boxes.txt").write_text("\n".join(lines) + "\n")
    assert identity(config) != first


# --- 4. logs that agree with the weights after a kill and a resume ----------------------------


class Killed(Exception):
    pass


@pytest.mark.slow
def test_an_epoch_resumed_mid_way_logs_the_whole_epoch(trained, tiny_data, tmp_path):
    workdir = tmp_path / "killed"
    config = config_for(tiny_data, workdir, epochs=1)

    def kill_at_step_two(line):
        if line.startswith("epoch 1/1 step 2/3"):
            raise Killed  # after the step, before its checkpoint: resume from step 1

    with pytest.raises(Killed):
        training.train(config, print_fn=kill_at_step_two)
    lines = []
    (resumed,) = training.train(config, print_fn=lines.append)
    assert any(line.startswith("epoch 1/1: resumed at step 1/3") for line in lines)
    progress = [line for line in lines if line.startswith("epoch 1/1 step")]
    assert progress[0].startswith("epoch 1/1 step 2/3")  # counted from the epoch's start
    with open(os.path.join(trained, "train_log.json")) as f:
        straight = json.load(f)[0]  # the same first epoch, uninterrupted
    assert resumed["loss"] == pytest.approx(straight["loss"], rel=1e-6)
    assert resumed["accuracy"] == pytest.approx(straight["accuracy"])
    assert "resumed_at_step" not in resumed


# --- 5. one unreadable file does not stop localize; 6. decode errors without op names ---------


@pytest.mark.slow
def test_localize_skips_counts_and_lists_a_text_file_named_jpg(trained, tiny_data, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    sources = sorted((p for p in os.scandir(os.path.join(tiny_data, "images", "001.Hue000_Disk"))),
                     key=lambda e: e.name)[:2]  # fmt: skip
    (folder / "a_text.jpg").write_text("not an image")  # first in order: the others follow it
    for entry in sources:
        shutil.copy(entry.path, folder / entry.name)
    out = tmp_path / "out"
    result = run_cli("wsol_tf.localize", f"--workdir={trained}", f"--out={out}", str(folder))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [os.path.basename(r["image"]) for r in lines] == [e.name for e in sources]
    (message,) = [line for line in error_lines(result) if "a_text.jpg" in line]
    assert "skipped 1 unreadable" in message and "Traceback" not in result.stderr
    assert "function_node" not in message and "[Op:" not in message
    skipped = json.loads((out / "unreadable_files.json").read_text())
    assert skipped["num_skipped"] == 1 and skipped["skipped"][0]["path"].endswith("a_text.jpg")


def test_decode_errors_read_without_tensorflow_op_names(tmp_path):
    from wsol_tf.data.decode import why_unreadable

    path = tmp_path / "text.jpg"
    path.write_text("not an image")
    reason = why_unreadable(str(path))
    assert reason and "function_node" not in reason and "[Op:" not in reason


# --- 6. one line and exit status 2, before TensorFlow is imported ------------------------------


def cli_cases(tiny_data, trained, tmp_path):
    """(name, argv, expected message) of bad input that must be refused before TensorFlow."""
    train = ["wsol_tf.train", "--dataset=cub", "--batch_size=8", "--image_size=32,48",
             "--notensorboard", "--epochs=1"]  # fmt: skip
    (tmp_path / "a_file").write_text("")
    other = copy_of(trained, tmp_path, "other")
    bad = {}
    for name, file, line, text in [
        ("bbox_not_a_number", "bounding_boxes.txt", 2, "2 1.0 2.0 five 6.0"),
        ("bbox_short_line", "bounding_boxes.txt", 2, "2 1.0 2.0 6.0"),
        ("bbox_inverted", "bounding_boxes.txt", 2, "2 10.0 2.0 -5.0 6.0"),
        ("class_id_out_of_range", "image_class_labels.txt", 2, "2 99"),
    ]:
        bad[name] = broken_copy(tiny_data, tmp_path / name, file, line, text)
    # A val image: the read-out is chosen on it after training (was an error once trained).
    val_id = load_cub(tiny_data, "val", val_per_class=2).image_ids[0]
    bad["val_image_missing"] = broken_copy(
        tiny_data, tmp_path / "val_image_missing", "images.txt", val_id, f"{val_id} gone/x.jpg"
    )
    data, workdir = f"--data_dir={tiny_data}", f"--workdir={tmp_path / 'w'}"
    (tmp_path / "empty_config").mkdir()
    (tmp_path / "empty_config" / "config.json").write_text("")

    def broken(name, expected):
        return (name, [*train, f"--data_dir={bad[name]}", workdir], expected)

    return [
        ("typo_value", [*train, data, "--lr=-1", workdir], "--lr=-1.0 is invalid"),
        ("unknown_flag", [*train, data, "--modle=x"], "Unknown command line flag 'modle'"),
        ("lr_inf", [*train, data, "--lr=inf", workdir], "--lr=inf is invalid"),
        ("lr_nan", [*train, data, "--lr=nan", workdir], "--lr=nan is invalid"),
        broken("bbox_not_a_number", "bounding_boxes.txt:2: cannot parse"),
        broken("bbox_short_line", "bounding_boxes.txt:2: expected 5 fields"),
        broken("bbox_inverted", "bounding_boxes.txt:2: image id 2: inverted box"),
        broken("class_id_out_of_range", "image_class_labels.txt:2: image id 2 has class id 99"),
        ("val_image_missing", [*train, f"--data_dir={bad['val_image_missing']}",
                               "--val_per_class=2", workdir],
         f"images.txt:{val_id}: image id {val_id}: no file"),
        ("stray_argument", ["wsol_tf.evaluate", trained],  # was absl's whole help, exit 1
         f"Unexpected arguments: ['{trained}'] (--helpshort lists the flags)"),
        ("batch_larger_than_split", [*train, data, "--batch_size=100", workdir],
         "--batch_size=100 is larger than the training split"),
        ("workdir_under_a_file", [*train, data, f"--workdir={tmp_path / 'a_file' / 'w'}"],
         "cannot write there"),
        ("another_run_in_workdir", [*train, data, "--method=cam", f"--workdir={other}"],
         "holds another run"),
        ("image_size_of_three", [*train, data, "--image_size=32,48,64", workdir],
         "--image_size=32,48,64: takes H,W or one size N, not 3 values"),
        ("lr_decay_epochs_not_a_number", [*train, data, "--lr_decay_epochs=abc", workdir],
         "--lr_decay_epochs=abc: takes whole epoch numbers"),
        ("lr_decay_epochs_negative", [*train, data, "--lr_decay_epochs=-1", workdir],
         "--lr_decay_epochs=-1 is invalid: must be epoch numbers >= 1"),
        ("pretrained_missing", [*train, data, "--pretrained=/does/not/exist.h5", workdir],
         "--pretrained='/does/not/exist.h5': no such file"),
        ("evaluate_empty_config",
         ["wsol_tf.evaluate", f"--workdir={tmp_path / 'empty_config'}"],
         f"{tmp_path / 'empty_config' / 'config.json'}: not a readable training config (empty"),
        ("evaluate_out_dir_under_a_file",
         ["wsol_tf.evaluate", f"--workdir={trained}", f"--out_dir={tmp_path / 'a_file' / 'o'}"],
         "cannot write there"),
    ]  # fmt: skip


def test_bad_input_gets_one_line_and_exit_2_before_tensorflow_is_imported(
    tiny_data, trained, tmp_path, no_tensorflow
):
    failures, timings = [], {}
    for name, argv, expected in cli_cases(tiny_data, trained, tmp_path):
        result = run_cli(*argv, env=no_tensorflow)
        timings[name] = round(result.seconds, 1)
        lines = error_lines(result)
        if result.returncode != 2 or len(lines) != 1 or expected not in lines[0]:
            failures.append(f"{name}: exit {result.returncode}, stderr {lines[-3:]}")
    assert not (tmp_path / "w").exists()  # refused: nothing written
    assert not failures, "\n".join(failures)
    print("refusal seconds:", timings)
    assert max(timings.values()) < 15  # about 1 s each on an idle machine (13 s before)


def test_a_read_only_workdir_is_refused_up_front(tiny_data):
    from wsol_tf.files import check_writable

    if os.access("/sys", os.W_OK) and os.path.isdir("/sys") and not _read_only("/sys"):
        pytest.skip("no read-only folder on this machine")
    with pytest.raises(OSError, match="cannot write in /sys"):
        check_writable("/sys/wsol_tf_test/run", "--workdir")
    with pytest.raises(OSError, match="cannot write in /sys"):
        training.train(config_for(tiny_data, "/sys/wsol_tf_test/run"))


def _read_only(folder):
    try:
        open(os.path.join(folder, ".wsol_probe"), "w").close()
    except OSError:
        return True
    os.remove(os.path.join(folder, ".wsol_probe"))
    return False


def test_a_zero_byte_score_map_is_named(tiny_data, tmp_path):
    maps = tmp_path / "maps"
    for line in open(os.path.join(tiny_data, "images.txt")):
        path = maps / (line.split()[1] + ".npy")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"\.npy: not a readable \.npy array \(empty file\)"):
        evaluation.evaluate(scoremaps=str(maps), dataset="cub", data_dir=tiny_data,
                            out_dir=str(tmp_path / "out"), print_fn=lambda _: None)  # fmt: skip


@pytest.mark.slow
def test_a_diverged_loss_suggests_float32_only_when_it_is_not(tiny_data, tmp_path):
    config = config_for(tiny_data, tmp_path / "nan", lr=1e30, epochs=1)
    with pytest.raises(FloatingPointError) as error:
        training.train(config, print_fn=lambda _: None)
    assert "Loss became nan" in str(error.value) or "Loss became inf" in str(error.value)
    assert "--precision=float32" not in str(error.value)


def test_unexpected_errors_are_one_line_too():
    from wsol_tf.cli import guarded

    def broken(argv):
        raise TypeError("something deep\nwith two lines")

    assert guarded(broken)([]) == 2


def test_a_help_flag_is_found_before_the_end_of_the_flags():
    from wsol_tf.cli import asks_for_help

    assert asks_for_help(["--help"]) and asks_for_help(["--epochs=1", "-?"])
    assert asks_for_help(["--helpfull"]) and asks_for_help(["-helpshort"])
    assert not asks_for_help(["--epochs=1"]) and not asks_for_help(["--helper=1"])
    assert not asks_for_help(["--", "--help"])  # an argument after `--`, not a flag


# --- 7. boxes ------------------------------------------------------------------------------------


def test_data_check_names_boxes_past_any_edge_and_empty_boxes(tiny_data, tmp_path, capsys):
    from wsol_tf.data.__main__ import main

    root = broken_copy(tiny_data, tmp_path, "bounding_boxes.txt", 2, "2 -5.0 -3.0 10.0 10.0")
    lines = (tmp_path / "broken" / "bounding_boxes.txt").read_text().splitlines()
    lines[2] = "3 5.0 5.0 0.0 8.0"  # zero width: empty
    (tmp_path / "broken" / "bounding_boxes.txt").write_text("\n".join(lines) + "\n")
    paths = dict(line.split() for line in open(os.path.join(root, "images.txt")))
    code = main(["check", "--dataset", "cub", "--data_dir", root, "--split", "train"])
    text = capsys.readouterr().out
    assert code == 1
    assert "outside the image 1" in text
    assert f"{paths['2']}: box [-5, -3, 5, 7] past the left/top edge" in text
    assert f"{paths['3']}: box [5, 5, 5, 13] empty" in text


def test_evaluate_refuses_a_split_whose_classes_are_not_the_runs(tiny_data, tmp_path):
    """Classes in another order (or partly others) were scored silently by index: a bird run
    evaluated on a folder listing its classes swapped got numbers for the wrong classes."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    config_for(tiny_data, workdir).save()
    names = [line.split()[1] for line in open(os.path.join(tiny_data, "classes.txt"))]
    (workdir / "classes.json").write_text(json.dumps(names))
    root = broken_copy(tiny_data, tmp_path, "classes.txt", 1, f"1 {names[1]}")
    (tmp_path / "broken" / "classes.txt").write_text(f"1 {names[1]}\n2 {names[0]}\n3 {names[2]}\n")
    with pytest.raises(ValueError, match=r"class 0 is '002.Hue120_Ring' there, '001.Hue000_Disk"):
        evaluation.evaluate(str(workdir), data_dir=root, out_dir=str(tmp_path / "out"))
    renamed = "\n".join(f"{k} class_{k}" for k in (1, 2, 3))  # no name shared: a warning
    (tmp_path / "broken" / "classes.txt").write_text(renamed + "\n")
    lines = []
    with pytest.raises(FileNotFoundError, match="No checkpoint"):  # past the check
        evaluation.evaluate(str(workdir), data_dir=root, print_fn=lines.append)
    assert lines[0].startswith(f"warning: {root}: its 3 classes are not those of")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_evaluate_warns_about_boxes_outside_the_image(trained, tiny_data, tmp_path):
    split = dict(line.split() for line in open(os.path.join(tiny_data, "train_test_split.txt")))
    test_id = next(i for i, flag in split.items() if flag == "0")
    root = broken_copy(tiny_data, tmp_path, "bounding_boxes.txt", int(test_id),
                       f"{test_id} -4.0 2.0 10.0 10.0")  # fmt: skip
    lines = []
    metrics = evaluation.evaluate(trained, data_dir=root, out_dir=str(tmp_path / "out"),
                                  num_pictures=0, print_fn=lines.append)  # fmt: skip
    assert metrics["suspect_gt_boxes"]["count"] == 1
    assert metrics["suspect_gt_boxes"]["examples"][0]["problem"] == "past the left edge"
    assert any(line.startswith("warning: 1 GT box(es)") for line in lines)


@pytest.mark.slow
def test_saved_model_and_localize_give_the_same_boxes(trained, tiny_data, tmp_path):
    import tensorflow as tf
    from test_boxes import covered_pixels

    from wsol_tf.deployment.localizer import localize, make_scorer
    from wsol_tf.deployment.saved_model import export
    from wsol_tf.runs.checkpoints import load_model

    model, config, _ = load_model(trained)
    export(model, config.image_size, str(tmp_path / "saved"), 0.2)
    serve = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    scorer = make_scorer(model)
    images = sorted(
        os.path.join(root, f)
        for root, _, files in os.walk(os.path.join(tiny_data, "images"))
        for f in files
    )[::3]  # 12 images of sizes 40..64 x 40..64, none square to the 32 x 48 input
    for path in images:
        mine = localize(scorer, None, path, cam_threshold=0.2)
        image = tf.cast(tf.image.decode_jpeg(tf.io.read_file(path), channels=3), tf.float32)
        theirs = {k: v.numpy()[0] for k, v in serve(images=image[None]).items()}
        assert mine["box_input"] == theirs["box"].tolist(), path
        assert mine["box"] == theirs["box_original"].tolist(), path
        assert mine["box_found"] is bool(theirs["box_found"]), path
        height, width = mine["size"]
        x0, y0, x1, y1 = theirs["box_original"]
        assert theirs["box_original"].dtype == np.int32
        assert 0 <= x0 <= x1 <= width - 1 and 0 <= y0 <= y1 <= height - 1
        expected = covered_pixels(theirs["box"][None], IMAGE_SIZE, (height, width))[0]
        np.testing.assert_array_equal(theirs["box_original"], expected)
    # Was: TensorFlow's resize error with op names (an empty image), and for a NaN pixel a
    # whole-image box with box_found True.
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 1 x 1 pixels"):
        serve(images=tf.zeros([1, 0, 30, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="must not hold NaN or Inf"):
        serve(images=tf.fill([1, 20, 30, 3], float("nan")))


@pytest.mark.slow
def test_localize_turns_a_sideways_phone_photo_upright(trained, tiny_data, tmp_path):
    # A phone stores a portrait photo sideways with EXIF Orientation 6 (viewers turn it 90
    # degrees clockwise): localize turns it first, so the trained model sees the picture
    # shown, and its size and box are in that frame (the datasets keep the stored pixels).
    import cv2
    from image_files import exif_jpeg

    from wsol_tf.data.exif import apply_orientation
    from wsol_tf.deployment.localizer import localize, make_scorer, read_user_image
    from wsol_tf.runs.checkpoints import load_model

    model, _, _ = load_model(trained)
    scorer = make_scorer(model)
    classes = sorted(os.listdir(os.path.join(tiny_data, "images")))
    folder = os.path.join(tiny_data, "images", classes[1])
    sources = [os.path.join(folder, f) for f in sorted(os.listdir(folder))]
    source = next(p for p in sources if len(set(cv2.imread(p).shape[:2])) == 2)  # not square
    upright = cv2.imread(source, cv2.IMREAD_COLOR)
    phone = str(tmp_path / "phone.jpg")
    with open(phone, "wb") as f:
        f.write(exif_jpeg(np.ascontiguousarray(np.rot90(upright, 1)), 6))
    stored, _ = read_user_image(phone, apply_exif_orientation=False)
    shown = str(tmp_path / "shown.png")  # the pixels localize turns it into, with no tag
    cv2.imwrite(shown, apply_orientation(stored, 6)[..., ::-1].astype(np.uint8))
    for threshold in (0.2, 0.8):  # 0.8: a box smaller than the image, off its centre
        turned, same = (localize(scorer, None, p, cam_threshold=threshold) for p in (phone, shown))
        assert turned["exif_orientation"] == 6 and same["exif_orientation"] == 1
        assert turned["size"] == same["size"] == list(upright.shape[:2])
        assert turned["box"] == same["box"] and turned["top_classes"] == same["top_classes"]
    # Not compared with the photo as taken: this 2-epoch model's map is nearly flat, and one
    # JPEG generation more moves its box at 0.8 by many pixels (tests/test_exif_orientation.py
    # checks that frame with a scene whose box is known).
    as_stored = localize(scorer, None, phone, apply_exif_orientation=False)
    assert as_stored["exif_orientation"] == 1 and as_stored["size"] == list(upright.shape[1::-1])


def test_cub_boxes_are_clipped_to_the_last_pixel(tmp_path):
    import cv2
    from test_cub import write_cub

    from wsol_tf.data.cub import load_cub

    root = write_cub(tmp_path, classes=(1,), per_class=2)  # 14 x 10 (w x h) images
    lines = (root / "bounding_boxes.txt").read_text().splitlines()
    lines[0] = "1 4.0 3.0 10.0 7.0"  # x + w = 14 = W, y + h = 10 = H: one past the last pixel
    (root / "bounding_boxes.txt").write_text("\n".join(lines) + "\n")
    assert cv2.imread(str(root / "images" / "001.Bird_1" / "img_1.jpg")).shape[:2] == (10, 14)
    records = load_cub(str(root), "test")
    np.testing.assert_array_equal(records.boxes[0, 0], [4, 3, 13, 9])


@needs_cub_mini
def test_cub_layout_and_wsol_metadata_give_equal_boxes_on_cub_mini():
    from wsol_tf.data.cub import load_cub
    from wsol_tf.data.wsol_metadata import load_wsol_metadata

    for split in ("train", "test"):
        raw, metadata = load_cub(CUB_MINI, split), load_wsol_metadata(CUB_MINI, split)
        by_id = {i: metadata.boxes[k, 0] for k, i in enumerate(metadata.image_ids)}
        differ = [
            path for k, path in enumerate(raw.image_paths)
            if not np.array_equal(raw.boxes[k, 0], by_id[path.split("/images/", 1)[1]])
        ]  # fmt: skip
        assert len(raw) == len(by_id) and differ == [], f"{split}: {len(differ)} boxes differ"


# --- also: atomic writes ------------------------------------------------------------------------


def test_outputs_are_written_atomically(tmp_path, monkeypatch):
    """A write that dies half-way leaves the old file, not half of the new one."""
    from wsol_tf import files, sweep
    from wsol_tf.evaluation.visualize import save_png

    target = tmp_path / "results.md"
    target.write_text("old\n")

    def dies(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", dies)
    with pytest.raises(KeyboardInterrupt):
        sweep.write_tables([{"run": "a", "top1_loc": 1.0}], str(tmp_path))
    assert target.read_text() == "old\n"
    with pytest.raises(KeyboardInterrupt):
        save_png(tmp_path / "overlay.png", np.zeros((4, 6, 3), np.uint8))
    assert not (tmp_path / "overlay.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.md"]  # no temporary left


# --- also: damaged checkpoints, too few readable images ----------------------------------------


def test_a_damaged_latest_checkpoint_is_named_and_the_newest_intact_one_is_used(
    trained, tiny_data, tmp_path
):
    """Resuming and evaluating 'latest' skip a damaged checkpoint for the newest intact one
    kept, naming the file; a damaged checkpoint asked for by name is an error naming it."""
    import glob

    import tensorflow as tf

    from wsol_tf.data.datasets import load_split
    from wsol_tf.runs.checkpoints import DamagedCheckpoint, load_model
    from wsol_tf.training.trainer import Trainer

    workdir = copy_of(trained, tmp_path)
    checkpoints = os.path.join(workdir, "checkpoints")
    (data,) = glob.glob(os.path.join(checkpoints, "ckpt-6.data-*"))
    os.truncate(data, 100)
    lines = []
    _, _, used = load_model(workdir, print_fn=lines.append)
    assert used == os.path.join(checkpoints, "ckpt-5")
    assert lines == [
        f"warning: skipped checkpoint {checkpoints}/ckpt-6: {data} is truncated or damaged (Read "
        "less bytes than requested); using the newest intact earlier checkpoint instead."
    ]
    with pytest.raises(DamagedCheckpoint) as error:
        load_model(workdir, os.path.join(checkpoints, "ckpt-6"))
    assert f"ckpt-6 cannot be read: {data} is truncated or damaged" in str(error.value)

    with open(os.path.join(checkpoints, "ckpt-5.index"), "wb") as f:
        f.write(os.urandom(300))  # a garbage index
    config = config_for(tiny_data, workdir, epochs=3).validate()
    trainer = Trainer.from_config(config, load_split("cub", tiny_data, "train"),
                                  tf.distribute.get_strategy(), print_fn=lines.append)  # fmt: skip
    lines.clear()
    run_path = os.path.join(workdir, "run.json")
    with open(run_path) as f:
        run = json.load(f)
    # What `prepare` writes for the new session: the step named by the latest checkpoint.
    run["sessions"].append({"started": "now", "from_step": 6, "to_step": 9})
    with open(run_path, "w") as f:
        json.dump(run, f)
    assert trainer.restore() == 4
    assert f"{checkpoints}/ckpt-6: {data} is truncated" in lines[0]
    assert f"{checkpoints}/ckpt-5: {checkpoints}/ckpt-5.index is damaged (" in lines[1]
    assert lines[2] == f"Resumed from {checkpoints}/ckpt-4 (step 4)."
    with open(run_path) as f:
        sessions = json.load(f)["sessions"]
    assert sessions[:-1] == run["sessions"][:-1]  # earlier sessions untouched
    assert sessions[-1] == {"started": "now", "from_step": 4, "to_step": 9,
                            "skipped_checkpoints": ["ckpt-6", "ckpt-5"]}  # fmt: skip


def test_too_few_readable_images_for_one_batch_are_counted_and_listed(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    broken = []
    for k in range(6):  # 3 readable, 3 not, in both classes
        path = tmp_path / "photos" / ("cat", "dog")[k // 3] / f"{k}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        if k % 2:
            path.write_bytes(b"not an image")
            broken.append(str(path))
        else:
            cv2.imwrite(str(path), rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
    workdir = tmp_path / "w"
    config = TrainConfig.from_settings(
        model="tinyvgg", dataset="folder", data_dir=str(tmp_path / "photos"), epochs=1,
        steps_per_epoch=1, batch_size=4, image_size=(48, 64), workdir=str(workdir),
        tensorboard=False,
    )  # fmt: skip
    with pytest.raises(ValueError) as error:
        training.train(config, print_fn=lambda *_: None)
    message = str(error.value)
    assert message.startswith(
        "only 3 of 6 images of split train are readable (fewer than --batch_size=4): "
    )
    assert all(path in message for path in broken) and "IteratorGetNext" not in message
    listed = json.loads((workdir / "unreadable_files.json").read_text())
    assert sorted(e["path"] for e in listed["skipped"]) == sorted(broken)
