"""Rebuild a training run's model from its workdir and load a checkpoint, with clear errors.

A damaged checkpoint (a truncated `.data-*` shard, a garbage or missing `.index`) is named by
its file. Where the caller asked for the workdir's latest checkpoint (resuming training,
`evaluate`/`localize`/`export` without `--checkpoint`), the newest intact one of those
keep_checkpoints kept is used instead, with a warning naming each damaged one skipped and
why; a checkpoint asked for by name (`--checkpoint`, a fork's source) is never replaced by
another: its damage is an error. A checkpoint whose files read but do not fit the model is
an error either way (another run's checkpoint is not "damaged").
"""

import contextlib
import gc
import glob
import json
import logging
import os
import re
import shutil
import sys

from wsol_tf.errors import error_text
from wsol_tf.files import check_pattern_free, naming_a_full_disk, read_json
from wsol_tf.runs.config import TrainConfig
from wsol_tf.runs.model import build_wsol_model


class DamagedCheckpoint(ValueError):
    """No usable checkpoint: the one asked for, or every one kept, has a damaged or missing
    file; the message names the files and why."""


def class_names(workdir):
    """Class names saved by training (workdir/classes.json), or None if absent; ValueError
    naming the file when it is not a list of names."""
    path = os.path.join(workdir, "classes.json")
    names = read_json(path, list)
    if names is not None and not (names and all(map(_is_class_name, names))):
        shown = json.dumps(names)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ValueError(f"{path}: cannot be read (expected class names, found {shown}).")
    return names


def _is_class_name(value):
    return isinstance(value, str | int) and not isinstance(value, bool)


def read_run(workdir, num_classes=None):
    """(config, number of classes) of a training workdir, read and checked without
    TensorFlow (commands call it before importing TensorFlow): config.json, and
    classes.json unless `num_classes` is given. FileNotFoundError or ValueError naming the
    file."""
    if not os.path.isfile(os.path.join(workdir, "config.json")):
        raise FileNotFoundError(f"--workdir={workdir}: no config.json (not a training workdir)")
    check_pattern_free(workdir, "--workdir")
    config = TrainConfig.load(workdir)
    if num_classes is None:
        names = class_names(workdir)
        if names is None:
            raise FileNotFoundError(f"{workdir}: no classes.json; pass the number of classes")
        num_classes = len(names)
    return config, num_classes


def check_named_checkpoint(checkpoint):
    """`checkpoint` (a --checkpoint prefix), or FileNotFoundError naming the flag when its
    .index is missing; no TensorFlow, so a command checks it before its work."""
    if not os.path.isfile(checkpoint + ".index"):
        raise FileNotFoundError(f"--checkpoint={checkpoint}: no file {checkpoint}.index")
    return checkpoint


def load_model(workdir, checkpoint=None, num_classes=None, print_fn=None):
    """The workdir's model with a checkpoint's weights.

    Args:
        workdir: training workdir (config.json, checkpoints/, classes.json).
        checkpoint: checkpoint prefix; None means the workdir's latest, or, when the
            latest's files are damaged, the newest intact one kept (a warning names each one
            skipped).
        num_classes: classifier size; None reads it from classes.json.
        print_fn: where warnings go; default stderr (the commands' stdout may be data).

    Returns:
        (model, config, checkpoint path).

    Raises:
        FileNotFoundError when the workdir, its config or a checkpoint is missing;
        ValueError naming config.json or classes.json when one cannot be read;
        DamagedCheckpoint (a ValueError) naming the file when the checkpoint asked for, or
        every one kept, cannot be read; ValueError when the checkpoint does not fit the model
        the config describes.
    """
    classes_from = "" if num_classes is not None else " (classes.json)"
    config, num_classes = read_run(workdir, num_classes)
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    if checkpoint:
        candidates = [check_named_checkpoint(checkpoint)]
    else:
        candidates = kept_checkpoints(checkpoint_dir)
        if not candidates:
            raise FileNotFoundError(f"No checkpoint in {checkpoint_dir}.")
    model = _build_model(config, num_classes)

    def restore(path):
        reason = _restore_or_reason(model, path)
        if reason is not None:
            raise ValueError(
                f"checkpoint {path} does not match the model {config.model} "
                f"(method {config.method}, {num_classes} classes{classes_from}, input "
                f"{config.image_size}): {reason}"
            )

    if print_fn is None:

        def print_fn(line):
            print(line, file=sys.stderr)

    checkpoint = restore_intact(
        candidates, restore, print_fn, using="using", kept_in=None if checkpoint else checkpoint_dir
    )
    return model, config, checkpoint


def _restore_or_reason(model, path):
    """Restores checkpoint `path` into `model`: None, or the first line of why it does not
    fit. A restore that fails leaves TensorFlow's record of it, which warns about every value
    it did not restore (some 35 lines after the one-line error) when it is collected: it is
    collected here, with TensorFlow's warnings off."""
    with _tensorflow_warnings_off():
        try:
            restore_model(model, path)
            return None
        except (AssertionError, ValueError) as error:
            text = str(error).strip()
            reason = text.splitlines()[0] if text else repr(error)
        gc.collect()  # `error`'s frames, the record among them, are unreachable now
    return reason


def restore_model(model, checkpoint_path):
    """Loads a training checkpoint's model weights into `model` (optimizer state ignored):
    a `CheckpointManager`'s ckpt-N or best/model, which `Checkpoint.write` saved without a
    save counter (`read` makes none, which `restore` would, unmatched, then refuse)."""
    import tensorflow as tf

    status = tf.train.Checkpoint(model=model).read(checkpoint_path)
    status.expect_partial()
    status.assert_existing_objects_matched()
    return model


@contextlib.contextmanager
def _tensorflow_warnings_off():
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def kept_checkpoints(checkpoint_dir):
    """The checkpoints that `checkpoint_dir`'s `checkpoint` list names (those keep_checkpoints
    kept), newest first; [] when there is no list. ValueError naming the list when it cannot
    be read."""
    import tensorflow as tf

    listing = os.path.join(checkpoint_dir, "checkpoint")
    if not os.path.isfile(listing):
        return []
    try:
        state = tf.train.get_checkpoint_state(checkpoint_dir)  # None when it does not parse
    except (ValueError, tf.errors.OpError) as error:
        state, reason = None, error_text(error)
    else:
        reason = "not a checkpoint list"
    if state is None:
        raise ValueError(
            f"{listing}: cannot be read ({reason}); the checkpoints kept are named by their "
            f"files ({os.path.join(checkpoint_dir, 'ckpt-<step>.index')})."
        )
    found = []  # get_checkpoint_state has joined relative names to checkpoint_dir
    for path in [state.model_checkpoint_path, *reversed(state.all_model_checkpoint_paths)]:
        if path not in found:
            found.append(path)
    return found


# tf.train.CheckpointManager's default `checkpoint_name`: checkpoints are `ckpt-<step>`.
CHECKPOINT_NAME = "ckpt"
# Where TensorFlow writes a checkpoint's files before moving them beside it: `<prefix>_temp/`
# (TensorFlow 2.4 on), `<prefix>_temp_<32 hex digits>/` before.
_DEAD_WRITE = re.compile(rf"^{CHECKPOINT_NAME}-\d+_temp(_[0-9a-f]{{32}})?$")


def remove_dead_checkpoint_writes(checkpoint_dir):
    """Removes the `ckpt-<step>_temp` folders of checkpoint writes that were killed (each as
    large as a checkpoint, kept forever otherwise); only folders so named, only in
    `checkpoint_dir`. Returns their names. Call it where no checkpoint is being written."""
    if not os.path.isdir(checkpoint_dir):
        return []
    dead = sorted(
        entry.name
        for entry in os.scandir(checkpoint_dir)
        if _DEAD_WRITE.match(entry.name) and entry.is_dir(follow_symlinks=False)
    )
    for name in dead:
        shutil.rmtree(os.path.join(checkpoint_dir, name), ignore_errors=True)
    return dead


def save_checkpoint(manager, step):
    """`manager.save(checkpoint_number=step)` (a `tf.train.CheckpointManager`); a save that
    fails leaves none of its files (its `_temp` folder, and the checkpoint's own files when
    it was not kept before), and a full disk is `DiskFull` naming the checkpoint. Returns
    the checkpoint's path."""
    prefix = os.path.join(manager.directory, f"{CHECKPOINT_NAME}-{step}")
    try:
        with naming_a_full_disk(prefix):
            return manager.save(checkpoint_number=step)
    except Exception:
        shutil.rmtree(prefix + "_temp", ignore_errors=True)
        if prefix not in manager.checkpoints:  # files moved before the failure: not kept
            pattern = glob.escape(prefix)
            for path in glob.glob(pattern + ".index") + glob.glob(pattern + ".data-*"):
                os.remove(path)
        raise


def checkpoint_damage(prefix):
    """Why checkpoint `prefix` cannot be read, naming the file at fault (its `.index` or a
    `.data-*` shard), or None when every tensor in it reads (then a failed restore means it
    does not fit the model, not that it is damaged)."""
    import tensorflow as tf

    index = prefix + ".index"
    if not os.path.isfile(index):
        return f"{index} is missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
        keys = sorted(reader.get_variable_to_dtype_map())
    except Exception as error:  # noqa: BLE001 - any reader error means the index is damaged
        return f"{index} is damaged ({error_text(error)})"
    shards = sorted(glob.glob(glob.escape(prefix) + ".data-*"))
    expected = {int(m.group(1)) for m in map(re.compile(r"-of-(\d+)$").search, shards) if m}
    if not shards or (len(expected) == 1 and len(shards) < expected.pop()):
        return f"{prefix}.data-* is missing (the index names {len(keys)} tensors)"
    try:
        for key in keys:
            reader.get_tensor(key)
    except Exception as error:  # noqa: BLE001 - the reader raises IndexError, DataLossError...
        where = shards[0] if len(shards) == 1 else f"one of {prefix}.data-* ({len(shards)} files)"
        return f"{where} is truncated or damaged ({error_text(error)})"
    return None


def restore_intact(candidates, restore, print_fn=print, using="using", kept_in=None, hint=""):
    """Calls `restore(path)` on the first of `candidates` (newest first) that restores.

    A candidate whose restore fails because a file of it is damaged or missing
    (`checkpoint_damage`) is skipped, with a warning naming the file and why, when `kept_in`
    (the folder of the kept checkpoints) says the candidates are alternatives; any other
    failure is raised as it is.

    Returns:
        The path restored.

    Raises:
        DamagedCheckpoint naming every damaged file (and ending with `hint`) when no candidate
        restores.
    """
    damaged = []
    for path in candidates:
        try:
            restore(path)
            return path
        except Exception:
            damage = checkpoint_damage(path)
            if damage is None:
                raise  # the files read: the checkpoint does not fit (the caller's message)
        damaged.append(damage)
        if kept_in is not None and len(damaged) < len(candidates):
            print_fn(
                f"warning: skipped checkpoint {path}: {damage}; {using} the newest intact "
                "earlier checkpoint instead."
            )
    if kept_in is None:
        raise DamagedCheckpoint(f"checkpoint {candidates[0]} cannot be read: {damaged[0]}.{hint}")
    listed = "; ".join(damaged)
    raise DamagedCheckpoint(
        f"no intact checkpoint in {kept_in}: {listed}; the files are left as they are.{hint}"
    )


def _build_model(config, num_classes):
    """The run's model with variables in the checkpoint's dtype: a float64 run holds float64
    variables, so it is rebuilt under the float64 policy (mixed-precision runs keep float32
    variables and are evaluated in float32, as before)."""
    import keras

    if config.precision != "float64":
        return build_wsol_model(config, num_classes)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float64")
    try:
        return build_wsol_model(config, num_classes)
    finally:
        keras.mixed_precision.set_global_policy(previous)
