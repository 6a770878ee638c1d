"""What a run writes besides its checkpoints, as small callbacks the `Trainer` calls.

- `RunLog`: train_log.json (every epoch's record) and checkpoints/epoch_progress.json (where
  the epoch stood at each checkpoint, written before it, read back on resume);
- `BestModel`: validation after each epoch, and best/ (the model of the best value of
  `--best_metric` so far, with best.json);
- `TensorBoard`: the train scalars at each logged step, the validation and epoch scalars and
  the CAM overlays at each epoch's end, in tensorboard/.

Each hook gets the trainer (its `config`, `model`, `chief`, `print`, `step`, `history`); the
callbacks run in list order, all on every worker: only the chief writes files.
"""

import os

import tensorflow as tf

from wsol_tf.files import read_json, write_folder_atomic, write_json
from wsol_tf.training.progress import save_step_progress

VALIDATION_KEYS = ("val_top1_clas", "val_gt_known_loc", "val_top1_loc")


class Callback:
    """The hooks; each does nothing unless overridden."""

    validates = False  # whether on_epoch_end adds the validation to the record

    def on_train_begin(self, trainer, step):
        """After the restore, before any step (`step`: where the run starts)."""

    def on_log(self, trainer, step, logs):
        """When a progress line is logged: the epoch's running values so far (loss,
        accuracy, learning_rate, images_per_second, the method's logged values)."""

    def on_checkpoint(self, trainer, step, epoch, totals, seconds, record=None):
        """Before the checkpoint of `step` is written: the epoch's running sums and seconds
        (at the epoch's end, its record too)."""

    def on_epoch_end(self, trainer, record):
        """After the epoch's checkpoint; `record` (already in trainer.history) may be added
        to by the callbacks before it."""


class RunLog(Callback):
    """train_log.json and checkpoints/epoch_progress.json (`wsol_tf.training.progress`)."""

    def on_checkpoint(self, trainer, step, epoch, totals, seconds, record=None):
        if trainer.chief:
            entry = {"step": step, "epoch": epoch, "totals": totals, "seconds": seconds}
            if record is not None:
                entry["record"] = record
            save_step_progress(
                trainer.config.workdir, entry, keep=trainer.config.keep_checkpoints + 1
            )

    def on_epoch_end(self, trainer, record):
        if trainer.chief:
            write_json(os.path.join(trainer.config.workdir, "train_log.json"), trainer.history)


class BestModel(Callback):
    """Evaluates `val_records` after each epoch (the record gets val_top1_clas,
    val_gt_known_loc, val_top1_loc) and keeps best/ by `config.best_metric`."""

    validates = True

    def __init__(self, val_records):
        self.val_records = val_records
        self.best = {"value": -1.0}

    def on_train_begin(self, trainer, step):
        config = trainer.config
        self.best = {"value": -1.0}
        path = os.path.join(config.workdir, "best", "best.json")
        if os.path.isfile(path):
            best = read_json(path, dict)  # a damaged one is named
            if best.get("metric") in (None, config.best_metric):
                self.best = best
            else:
                trainer.print(
                    f"--best_metric={config.best_metric}: the kept best model was picked by "
                    f"{best['metric']}; it is replaced by the next validation."
                )

    def on_epoch_end(self, trainer, record):
        from wsol_tf.evaluation.evaluator import evaluate_model

        config, best, epoch = trainer.config, self.best, record["epoch"]
        metrics = evaluate_model(
            trainer.model,
            self.val_records,
            image_size=config.image_size,
            resize_size=config.eval_resize_size,
            batch_size=config.batch_size,
            cam_curve_interval=0.01,  # the headline metric is at one threshold; keep it cheap
            out_dir=None,
            print_fn=lambda *_: None,
        )
        name = config.best_metric
        result = {key: metrics[key.removeprefix("val_")] for key in VALIDATION_KEYS}
        trainer.print(
            f"epoch {epoch} validation ({config.val_split}): "
            + ", ".join(f"{k} " + ("n/a" if v is None else f"{v:.2f}") for k, v in result.items())
        )
        # Box metrics are None on a split without boxes (e.g. masks only).
        if trainer.chief and metrics[name] is not None and metrics[name] > best["value"]:
            best.update({"value": metrics[name], "metric": name, "epoch": epoch})
            best_dir = os.path.join(config.workdir, "best")

            def write_best(folder):
                tf.train.Checkpoint(model=trainer.model).write(os.path.join(folder, "model"))
                write_json(os.path.join(folder, "best.json"), best)

            write_folder_atomic(best_dir, write_best)  # a kill leaves the old best or the new
            trainer.print(f"new best {name} {metrics[name]:.2f}: {best_dir}")
        record.update(result)


class TensorBoard(Callback):
    """Summaries in `workdir`/tensorboard (the chief's); the CAM overlays are drawn from the
    first images of `image_records`."""

    def __init__(self, image_records):
        self.image_records = image_records
        self.writer = None

    def on_train_begin(self, trainer, step):
        if trainer.chief:
            path = os.path.join(trainer.config.workdir, "tensorboard")
            self.writer = tf.summary.create_file_writer(path)

    def on_log(self, trainer, step, logs):
        if self.writer:
            with self.writer.as_default(step=step):
                for name, value in logs.items():
                    tf.summary.scalar(f"train/{name}", value)

    def on_epoch_end(self, trainer, record):
        from wsol_tf.training.summaries import cam_overlay_image

        if not self.writer:
            return
        with self.writer.as_default(step=trainer.step):
            for key in VALIDATION_KEYS:
                if record.get(key) is not None:
                    tf.summary.scalar(key.replace("val_", "val/"), record[key])
        step = record["step"]
        with self.writer.as_default(step=step):
            tf.summary.scalar("epoch/loss", record["loss"])
            tf.summary.scalar("epoch/accuracy", record["accuracy"])
            image = cam_overlay_image(trainer.model, self.image_records, trainer.config)
            tf.summary.image("cam_overlays", image[None], step=step)
        self.writer.flush()


def default_callbacks(config, train_records, val_records=None):
    """A run's callbacks: validation and best/ (with `val_records`), the log and progress
    files, TensorBoard (with `config.tensorboard`), in the order they run."""
    callbacks = [] if val_records is None else [BestModel(val_records)]
    callbacks.append(RunLog())
    if config.tensorboard:
        callbacks.append(TensorBoard(val_records if val_records is not None else train_records))
    return callbacks
