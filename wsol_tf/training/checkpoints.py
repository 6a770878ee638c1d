"""Rebuild a training run's model from its workdir and load a checkpoint, with clear errors."""

import json
import os

from wsol_tf.training.config import TrainConfig


def class_names(workdir):
    """Class names saved by training (workdir/classes.json), or None if absent."""
    path = os.path.join(workdir, "classes.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_model(workdir, checkpoint=None, num_classes=None):
    """The workdir's model with a checkpoint's weights.

    Args:
        workdir: training workdir (config.json, checkpoints/, classes.json).
        checkpoint: checkpoint prefix; None means the workdir's latest.
        num_classes: classifier size; None reads it from classes.json.

    Returns:
        (model, config, checkpoint path).

    Raises:
        FileNotFoundError when the workdir, its config or a checkpoint is missing;
        ValueError when the checkpoint does not fit the model the config describes.
    """
    from wsol_tf.training.trainer import latest_checkpoint, restore_model

    if not os.path.isfile(os.path.join(workdir, "config.json")):
        raise FileNotFoundError(f"--workdir={workdir}: no config.json (not a training workdir)")
    config = TrainConfig.load(workdir)
    checkpoint = checkpoint or latest_checkpoint(workdir)
    if not checkpoint:
        raise FileNotFoundError(f"No checkpoint in {os.path.join(workdir, 'checkpoints')}.")
    if not os.path.isfile(checkpoint + ".index"):
        raise FileNotFoundError(f"--checkpoint={checkpoint}: no file {checkpoint}.index")
    if num_classes is None:
        names = class_names(workdir)
        if names is None:
            raise FileNotFoundError(f"{workdir}: no classes.json; pass the number of classes")
        num_classes = len(names)
    model = _build_model(config, num_classes)
    try:
        restore_model(model, checkpoint)
    except (AssertionError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ValueError(
            f"checkpoint {checkpoint} does not match the model {config.model} "
            f"(method {config.method}, {num_classes} classes, input {config.image_size}): "
            f"{first_line}"
        ) from None
    return model, config, checkpoint


def _build_model(config, num_classes):
    """The run's model with variables in the checkpoint's dtype: a float64 run holds float64
    variables, so it is rebuilt under the float64 policy (mixed-precision runs keep float32
    variables and are evaluated in float32, as before)."""
    import keras

    if config.precision != "float64":
        return config.build_model(num_classes)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float64")
    try:
        return config.build_model(num_classes)
    finally:
        keras.mixed_precision.set_global_policy(previous)
