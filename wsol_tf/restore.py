"""Rebuild a training run's model from its workdir and load a checkpoint, with clear errors."""

import json
import os

from wsol_tf import models
from wsol_tf.config import TrainConfig


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
    from wsol_tf.trainer import latest_checkpoint, restore_model

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
    model = models.build(
        config.model,
        num_classes,
        method=config.method,
        positions=config.resolved_positions,
        image_size=config.image_size,
        drop_rate=config.drop_rate,
        gamma=config.resolved_gamma,
        adl_variant=config.adl_variant,
        last_stride=config.last_stride,
    )
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
