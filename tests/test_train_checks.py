"""Checks at the start of training, as unit tests (no training): flags that take sizes and
epochs name themselves, a missing --pretrained file is refused before the workdir is
written, and a broken config.json is named."""

import re

import pytest
from absl import flags

from wsol_tf import evaluation, training
from wsol_tf.training import flags as train_flags
from wsol_tf.training import workdir as run_folder
from wsol_tf.training.config import TrainConfig


@pytest.fixture(scope="module")
def parse():
    """argv -> TrainConfig, through the train command's own flags (a private FlagValues)."""
    values = flags.FlagValues()
    train_flags.define_flags(values)

    def parse(*args):
        values.unparse_flags()
        values(["train", "--dataset=cub", "--data_dir=unused", *args])
        return train_flags.config_from_flags(values)

    return parse


@pytest.mark.parametrize(
    "arg, message",
    [
        ("--image_size=32,48,64", "--image_size=32,48,64: takes H,W or one size N, not 3 values"),
        ("--image_size=abc", "--image_size=abc: takes H,W or one size N (whole numbers)"),
        ("--resize_size=1,2,3", "--resize_size=1,2,3: takes H,W or one size N, not 3 values"),
        ("--lr_decay_epochs=abc", "--lr_decay_epochs=abc: takes whole epoch numbers"),
        ("--lr_decay_epochs=1.5", "--lr_decay_epochs=1.5: takes whole epoch numbers"),
    ],
)
def test_size_and_epoch_flags_name_the_flag_and_what_it_takes(parse, arg, message):
    with pytest.raises(ValueError) as error:
        parse(arg)
    assert message in str(error.value)


def test_lr_decay_epochs_count_from_one_and_once_each(parse):
    assert parse("--lr_decay_epochs=30,60").validate().lr_decay_epochs == (30, 60)
    assert parse("--image_size=48,64").image_size == (48, 64)
    assert parse("--image_size=48").image_size == (48, 48)
    # The step schedule decays at step e * steps_per_epoch: e <= 0 decays from step 0 on.
    for value in ("-1", "0,3"):
        with pytest.raises(ValueError, match=f"--lr_decay_epochs={value} is invalid: must be"):
            parse(f"--lr_decay_epochs={value}").validate()
    with pytest.raises(ValueError, match="--lr_decay_epochs=3,3 is invalid: must be distinct"):
        parse("--lr_decay_epochs=3,3").validate()


def test_a_missing_or_unsuitable_pretrained_file_is_refused_before_anything_is_written(
    tmp_path,
):
    workdir = tmp_path / "w"
    settings = dict(dataset="cub", data_dir=str(tmp_path / "no_data"), workdir=str(workdir))
    missing = str(tmp_path / "nowhere.h5")
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"--pretrained='{missing}': no such file")
    ):
        training.train(TrainConfig.from_settings(pretrained=missing, **settings))
    (tmp_path / "weights.pth").write_bytes(b"")
    with pytest.raises(ValueError, match="--model=tinyvgg has no torch naming"):
        TrainConfig.from_settings(pretrained=str(tmp_path / "weights.pth"), **settings).validate()
    assert not workdir.exists()


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "empty file"),
        ("{", "not valid JSON"),
        ("[1]", "expected a JSON object, found list"),
        ('{"image_size": [1, 2, 3]}', "--image_size=1,2,3: takes H,W or one size N"),
    ],
)
def test_a_broken_config_json_is_named_by_evaluate_and_train(tmp_path, text, why):
    (tmp_path / "config.json").write_text(text)
    path = str(tmp_path / "config.json")
    with pytest.raises(ValueError) as error:
        evaluation.evaluate(str(tmp_path), print_fn=lambda _: None)
    assert f"{path}: not a readable training config (" in str(error.value)
    assert why in str(error.value)
    config = TrainConfig.from_settings(dataset="cub", data_dir="unused", workdir=str(tmp_path))
    with pytest.raises(
        run_folder.RunMismatch, match=re.escape(f"--workdir={tmp_path}: {path}: not a")
    ):
        run_folder.prepare(config, {}, 1, print_fn=lambda _: None)
