"""Train and evaluate runs as library calls (the CLIs in train.py / evaluate.py wrap these)."""

import json
import os

from wsol_tf.data.datasets import load_split
from wsol_tf.distribute import is_chief, make_strategy
from wsol_tf.trainer import Trainer


def train(config, resume=True, print_fn=print):
    """Trains the run described by a `TrainConfig`; returns the per-epoch log."""
    import tensorflow as tf

    config.validate()
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(config.strategy, config.cpu_replicas)
    records = load_split(config.dataset, config.data_dir, "train")
    val_records = (
        load_split(config.dataset, config.data_dir, config.val_split) if config.val_split else None
    )
    os.makedirs(config.workdir, exist_ok=True)
    if is_chief(strategy):
        config.save()
        with open(os.path.join(config.workdir, "classes.json"), "w") as f:
            json.dump(records.class_names, f, indent=1)
    method = config.method
    if method == "adl":
        method += (
            f" (drop_rate {config.drop_rate}, gamma {config.resolved_gamma}, positions "
            f"{','.join(config.resolved_positions)})"
        )
    if is_chief(strategy):
        print_fn(
            f"Training {config.model} with {method} on {config.dataset}: {len(records)} images, "
            f"{records.num_classes} classes, {strategy.num_replicas_in_sync} replica(s), "
            f"precision {config.precision}, workdir {config.workdir}"
        )
    trainer = Trainer(config, records, strategy, print_fn=print_fn, val_records=val_records)
    return trainer.train(resume=resume)


def evaluate(
    workdir,
    checkpoint=None,
    dataset=None,
    data_dir=None,
    split="test",
    cam_threshold=0.2,
    batch_size=32,
    out_dir=None,
    print_fn=print,
):
    """Evaluates a training workdir's checkpoint; writes metrics.json and overlays.png.

    The model, image size and dataset come from the workdir's config.json; the
    dataset, folder and split can be overridden.
    """
    from wsol_tf import models
    from wsol_tf.config import TrainConfig
    from wsol_tf.evaluation import evaluate_model
    from wsol_tf.trainer import latest_checkpoint, restore_model

    config = TrainConfig.load(workdir)
    checkpoint = checkpoint or latest_checkpoint(workdir)
    if not checkpoint:
        raise FileNotFoundError(f"No checkpoint in {os.path.join(workdir, 'checkpoints')}.")
    dataset = dataset or config.dataset
    data_dir = data_dir if (data_dir or dataset != config.dataset) else config.data_dir
    records = load_split(dataset, data_dir, split)
    model = models.build(
        config.model,
        records.num_classes,
        method=config.method,
        positions=config.resolved_positions,
        image_size=config.image_size,
        drop_rate=config.drop_rate,
        gamma=config.resolved_gamma,
    )
    restore_model(model, checkpoint)
    print_fn(f"Evaluating {checkpoint} on {dataset} {split} ({len(records)} images)")
    metrics = evaluate_model(
        model,
        records,
        image_size=config.image_size,
        resize_size=config.resize_size,
        batch_size=batch_size,
        cam_threshold=cam_threshold,
        out_dir=out_dir or workdir,
        print_fn=print_fn,
    )
    metrics.update(
        {
            "checkpoint": checkpoint,
            "model": config.model,
            "method": config.method,
            "dataset": dataset,
            "split": split,
        }
    )
    with open(os.path.join(out_dir or workdir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    return metrics
