"""Train a run as a library call (`python -m wsol_tf.train` wraps it).

Everything that can refuse the run is checked before anything is written and before
TensorFlow is imported: the config, that the workdir is writable, the data (annotations are
read, not images), that the batch fits the split, that no other process writes the workdir
(its lock, held to the end) and what the workdir already holds
(`wsol_tf.training.workdir.prepare`).
"""

import os

from wsol_tf.data.datasets import load_split
from wsol_tf.files import check_writable, read_json
from wsol_tf.runs.model import fetch_imagenet_weights
from wsol_tf.training import workdir as run_folder
from wsol_tf.training.distribute import is_chief_process, process_workers, steps_per_epoch
from wsol_tf.training.progress import unlogged_epoch_record


def train(config, resume=True, print_fn=print, *, replace="refuse", fork_from=None):
    """Trains the run described by a `TrainConfig`; returns the per-epoch log.

    Args:
        config: the run's `TrainConfig`; its workdir is the run's folder.
        resume: continue the same run from its latest checkpoint; False starts over (an
            earlier run in the workdir is moved aside, or deleted with replace="delete").
        print_fn: where progress lines go.
        replace: a workdir holding another run: "refuse" (`workdir.RunMismatch`, naming the
            settings that differ; nothing is changed), "move" it aside, or "delete" it.
        fork_from: another run's workdir; this run starts from its latest checkpoint
            (weights, optimizer, step) with this config's settings.

    Raises:
        ValueError (RunMismatch included) and FileNotFoundError naming what to fix, before
        anything is written; `workdir.WorkdirBusy` (an OSError) when another live process
        holds the workdir; FloatingPointError when the loss diverges.
    """
    config.validate()
    check_writable(config.workdir, "--workdir")
    for name in ("checkpoints", "tensorboard" if config.tensorboard else None):
        # A resumed run writes in these too: a read-only one is named now, not an epoch later.
        if name and os.path.lexists(os.path.join(config.workdir, name)):
            check_writable(os.path.join(config.workdir, name))
    fetch_imagenet_weights(config.model, config.pretrained)  # offline: fails before any write
    options = config.split_options()
    records = load_split(config.dataset, config.data_dir, "train", **options)
    val_records = None
    if config.val_split:
        val_records = load_split(config.dataset, config.data_dir, config.val_split, **options)
    _, epoch_steps = steps_per_epoch(config, records, process_workers())
    data = run_folder.data_identity(config.dataset, records)
    # One writer per run: held from before anything in the workdir changes to the end,
    # released on any exit (and by the kernel when the process is killed).
    with run_folder.writer(config.workdir):
        plan = run_folder.prepare(
            config, data, epoch_steps, resume=resume, replace=replace, fork_from=fork_from,
            print_fn=print_fn,
        )  # fmt: skip
        # Killed after its last checkpoint, before that epoch's log: not done, the trainer
        # restores that checkpoint and logs the epoch (validated), training nothing more.
        if plan.action == "done" and not unlogged_epoch_record(config.workdir, plan.step):
            return _already_done(config, plan, print_fn)
        if is_chief_process():
            run_folder.write_run_files(config, records, plan)
        return _train(config, records, val_records, plan, print_fn)


def _already_done(config, plan, print_fn):
    """The log of a run trained to its last epoch already (nothing is trained)."""
    print_fn(
        f"{config.workdir}: already trained to epoch {config.epochs} (step {plan.step}); "
        "nothing to do (ask for more --epochs to continue it)."
    )
    return read_json(os.path.join(config.workdir, "train_log.json"), list) or []


def _train(config, records, val_records, plan, print_fn):
    import tensorflow as tf

    from wsol_tf import models
    from wsol_tf.training.distribute import is_chief, make_strategy
    from wsol_tf.training.trainer import Trainer

    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(config.strategy, config.cpu_replicas)
    method = config.make_method().describe()
    if config.entropy_weight:
        method += f" + entropy regularizer (weight {config.entropy_weight})"
    if config.label_smoothing:
        method += f", label smoothing {config.label_smoothing}"
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
    warning = warmup_warning(config)
    if warning and is_chief(strategy):
        print_fn(warning)
    missing = classes_without_images(records)
    if missing and is_chief(strategy):
        print_fn(
            f"warning: {len(missing)} of {records.num_classes} classes have no training image "
            f"(first: {missing[0]}): the classifier cannot learn them."
        )
    fork = (plan.run or {}).get("forked_from") if plan.action == "new" else None
    trainer = Trainer.from_config(config, records, strategy, print_fn=print_fn,
                                  val_records=val_records, fork=fork)  # fmt: skip
    report = models.pretrained_report(trainer.model)
    if report is not None and is_chief(strategy):
        print_fn(report.summary())
    return trainer.train()


def warmup_warning(config):
    """A warning when --warmup_epochs outlasts the run (the lr never reaches --lr), else None."""
    if config.warmup_epochs <= config.epochs:
        return None
    return (
        f"warning: --warmup_epochs={config.warmup_epochs:g} is longer than "
        f"--epochs={config.epochs}: the learning rate never reaches --lr={config.lr:g} (the "
        "warmup ends after the run)."
    )


def classes_without_images(records):
    """Names of the classes that no image of `records` is labelled with ([] when the labels
    are only known by reading the data: tfds)."""
    if getattr(records, "labels", None) is None:
        return []
    labelled = set(int(label) for label in records.labels)
    return [name for k, name in enumerate(records.class_names) if k not in labelled]
