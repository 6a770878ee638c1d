"""Checks at the start of training and around checkpoints, as unit tests (no training):
flags that take sizes and epochs name themselves, a missing --pretrained file is refused
before the workdir is written, a broken config.json is named, and a damaged checkpoint is
named by its file and skipped for the newest intact one kept."""

import glob
import os
import re

import pytest
from absl import flags

from wsol_tf import evaluation, train_flags, training
from wsol_tf.runs.config import TrainConfig
from wsol_tf.training import workdir as run_folder


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


@pytest.mark.parametrize(
    "args, message",
    [
        # numpy's own words came after the workdir was written: "Seed must be between 0 and
        # 2**32 - 1", naming no flag.
        (["--seed=-1"], "--seed=-1 is invalid: must be in [0, 4294967295]"),
        (["--seed=4294967296"], "--seed=4294967296 is invalid: must be in [0, 4294967295]"),
        # Finite in Python, inf in float32: trained with lr inf until the loss went NaN.
        (["--lr=1e39"], "--lr=1e+39 is invalid: must be at most 3.4e+38 in magnitude"),
        (["--weight_decay=1e300"], "--weight_decay=1e+300 is invalid: must be at most 3.4e+38"),
        # Refused by the model builder, after the workdir was written, naming no flag.
        (["--positions=features,features"],
         "--positions=features,features: 'features' is given twice"),
        (["--model=inceptionv3", "--image_size=48"],
         "--image_size=(48, 48) is invalid: must be >= 64 pixels for --model=inceptionv3"),
        # Was: trained the plain CAM model under ADL's (RDAP's) name, without a word.
        (["--method=adl", "--positions="], "--positions is empty: --method=adl needs"),
        (["--method=rdap", "--positions="], "--positions is empty: --method=rdap needs"),
        # Was named by the parameter, not the flag: "--prob=nan", "--beta=1e+39".
        (["--method=cutmix", "--cutmix_prob=nan"], "--cutmix_prob=nan is invalid: must be a"),
        (["--method=cutmix", "--cutmix_beta=1e39"], "--cutmix_beta=1e+39 is invalid: must be"),
    ],
)  # fmt: skip
def test_values_refused_by_numpy_float32_or_the_model_are_refused_by_validate(parse, args, message):
    with pytest.raises(ValueError) as error:
        parse(*args).validate()
    assert message in str(error.value)


def test_classes_without_a_training_image_are_named():
    # Was silent: a CUB folder whose class 002 had test images only trained a 2-way model.
    import numpy as np

    from wsol_tf.data.records import Records, pad_boxes
    from wsol_tf.training.api import classes_without_images

    boxes, num_boxes = pad_boxes([[], [], []])
    records = Records(["a.jpg", "b.jpg", "c.jpg"], np.array([0, 2, 0], np.int32), boxes,
                      num_boxes, [1, 2, 3], ["001.a", "002.b", "003.c"])  # fmt: skip
    assert classes_without_images(records) == ["002.b"]
    assert classes_without_images(records.subset([1])) == ["001.a", "002.b"]


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


# --- damaged checkpoints ----------------------------------------------------------------------


@pytest.fixture()
def kept(tmp_path):
    """A checkpoint folder that kept ckpt-2, ckpt-3, ckpt-4 of one variable (value = step)."""
    import tensorflow as tf

    variable = tf.Variable(0.0)
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(v=variable), str(tmp_path / "checkpoints"), max_to_keep=3
    )
    for step in range(1, 5):
        variable.assign(float(step))
        manager.save(checkpoint_number=step)
    return str(tmp_path / "checkpoints")


def restorer():
    """(restore(path), the value restored)."""
    import tensorflow as tf

    variable = tf.Variable(-1.0)

    def restore(path):
        tf.train.Checkpoint(v=variable).restore(path).assert_existing_objects_matched()

    return restore, variable


def test_a_damaged_kept_checkpoint_is_skipped_naming_its_file(kept):
    from wsol_tf.runs.checkpoints import checkpoint_damage, kept_checkpoints, restore_intact

    names = [os.path.basename(p) for p in kept_checkpoints(kept)]
    assert names == ["ckpt-4", "ckpt-3", "ckpt-2"]
    (data,) = glob.glob(os.path.join(kept, "ckpt-4.data-*"))
    os.truncate(data, 10)
    with open(os.path.join(kept, "ckpt-3.index"), "wb") as f:
        f.write(b"garbage" * 50)
    assert checkpoint_damage(os.path.join(kept, "ckpt-2")) is None
    lines = []
    restore, variable = restorer()
    path = restore_intact(kept_checkpoints(kept), restore, lines.append, kept_in=kept)
    assert os.path.basename(path) == "ckpt-2" and float(variable.numpy()) == 2.0
    assert len(lines) == 2
    assert lines[0].startswith(f"warning: skipped checkpoint {kept}/ckpt-4: {data} is truncated")
    assert f"{kept}/ckpt-3.index is damaged (" in lines[1]


def test_a_named_or_every_damaged_checkpoint_is_an_error_naming_the_files(kept):
    from wsol_tf.runs.checkpoints import DamagedCheckpoint, kept_checkpoints, restore_intact

    os.remove(os.path.join(kept, "ckpt-2.index"))
    for data in glob.glob(os.path.join(kept, "ckpt-[34].data-*")):
        os.truncate(data, 10)
    restore, _ = restorer()
    with pytest.raises(DamagedCheckpoint, match=r"checkpoint .*ckpt-4 cannot be read: .*ckpt-4\."
                       r"data-00000-of-00001 is truncated or damaged"):  # fmt: skip
        restore_intact([os.path.join(kept, "ckpt-4")], restore, print)
    with pytest.raises(DamagedCheckpoint) as error:
        restore_intact(kept_checkpoints(kept), restore, lambda _: None, kept_in=kept)
    message = str(error.value)
    assert message.startswith(f"no intact checkpoint in {kept}: {kept}/ckpt-4.data-")
    assert f"{kept}/ckpt-2.index is missing" in message


def test_a_checkpoint_of_another_model_is_not_taken_for_a_damaged_one(kept):
    import tensorflow as tf

    from wsol_tf.runs.checkpoints import kept_checkpoints, restore_intact

    other = tf.Variable(0.0)

    def restore(path):  # expects a variable the checkpoint does not hold
        tf.train.Checkpoint(w=other).restore(path).assert_existing_objects_matched()

    with pytest.raises(AssertionError):
        restore_intact(kept_checkpoints(kept), restore, print, kept_in=kept)


def test_a_warmup_longer_than_the_run_is_warned_of(parse):
    # Was silent: --warmup_epochs=5 --epochs=1 trained at 1/5 of --lr at most.
    from wsol_tf.training.api import warmup_warning

    warning = warmup_warning(parse("--warmup_epochs=5", "--epochs=1", "--lr=0.02").validate())
    assert warning == (
        "warning: --warmup_epochs=5 is longer than --epochs=1: the learning rate never "
        "reaches --lr=0.02 (the warmup ends after the run)."
    )
    assert warmup_warning(parse("--warmup_epochs=2", "--epochs=2").validate()) is None
