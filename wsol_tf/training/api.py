"""Train a run as a library call (`python -m wsol_tf.train` wraps it)."""

import json
import os

from wsol_tf import models
from wsol_tf.data.datasets import load_split
from wsol_tf.training.distribute import is_chief, make_strategy
from wsol_tf.training.trainer import Trainer


def train(config, resume=True, print_fn=print):
    """Trains the run described by a `TrainConfig`; returns the per-epoch log."""
    import tensorflow as tf

    config.validate()
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(config.strategy, config.cpu_replicas)
    options = config.split_options()
    records = load_split(config.dataset, config.data_dir, "train", **options)
    val_records = None
    if config.val_split:
        val_records = load_split(config.dataset, config.data_dir, config.val_split, **options)
    os.makedirs(config.workdir, exist_ok=True)
    if is_chief(strategy):
        config.save()
        with open(os.path.join(config.workdir, "classes.json"), "w") as f:
            json.dump(records.class_names, f, indent=1)
    method = config.make_method().describe()
    if config.entropy_weight:
        method += f" + entropy regularizer (weight {config.entropy_weight})"
    if is_chief(strategy):
        print_fn(
            f"Training {config.model} with {method} on {config.dataset}: {len(records)} images, "
            f"{records.num_classes} classes, {strategy.num_replicas_in_sync} replica(s), "
            f"precision {config.precision}, workdir {config.workdir}"
        )
    if config.lr_groups == "pretrained_0.1" and not config.pretrained:
        print_fn(
            "warning: --lr_groups=pretrained_0.1 without --pretrained: the backbone trains "
            "from scratch at 0.1x the learning rate (Tensorpack scales only pretrained runs)."
        )
    trainer = Trainer(config, records, strategy, print_fn=print_fn, val_records=val_records)
    report = models.pretrained_report(trainer.model)
    if report is not None and is_chief(strategy):
        print_fn(report.summary())
    return trainer.train(resume=resume)
