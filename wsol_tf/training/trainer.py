"""The custom training loop: tf.function steps run under a tf.distribute strategy.

One code path from one CPU to many GPUs and hosts:
- the per-replica loss is averaged over the global batch
  (`tf.nn.compute_average_loss`) and the L2 penalty is divided by the number
  of replicas (`tf.nn.scale_regularization_loss`), so gradients summed over
  replicas equal those of one device on the whole batch;
- each replica's ADL layers fold the replica id into their seed, so each
  replica draws its own branch per step, as each GPU tower did in the original;
- the global step fixes the data position: epoch e's batches depend only on
  (seed, e), so a resumed run skips to the same batch it was killed at.
"""

import math
import os
import shutil
import time

import keras
import tensorflow as tf

from wsol_tf import models
from wsol_tf.data.pipeline import SkipLog, make_dataset
from wsol_tf.files import read_json, remove_dead_temporaries, write_json
from wsol_tf.methods import regularizers
from wsol_tf.runs.checkpoints import remove_dead_checkpoint_writes, save_checkpoint
from wsol_tf.training import distribute
from wsol_tf.training.build import build_parts, gradient_multipliers, regularized_kernels
from wsol_tf.training.callbacks import default_callbacks
from wsol_tf.training.progress import Progress, step_progress
from wsol_tf.training.schedules import lr_multipliers


def random_state_variables(model):
    """The model's state that is not weights: the seeds of its random layers (ADL).

    Keras does not hand these to tf.train.Checkpoint through the model, so the
    trainer checkpoints them itself; a resumed run then continues the same
    random sequence as an uninterrupted one.
    """
    weight_ids = {id(w) for w in model.weights}
    state = [v for v in model.variables if id(v) not in weight_ids]
    return {f"state_{i}": v for i, v in enumerate(state)}


class Trainer:
    """Trains a WSOL model with SGD under a strategy, with exact resume.

    It is handed its parts (`Trainer.from_config` builds them from the config, as
    `wsol_tf.training.build.build_parts`); it owns the checkpoints, the data iterator and the
    loop, and calls its callbacks (`wsol_tf.training.callbacks`) for what else is written.

    Args:
        config: a validated `wsol_tf.runs.config.TrainConfig`.
        model, optimizer, method: built under `strategy.scope()` (`build_parts`).
        train_records: `Records` of the training split.
        strategy: a `tf.distribute.Strategy` (the default strategy works too).
        callbacks: `Callback`s run in order; None: `default_callbacks(config, train_records)`
            (the log and progress files, TensorBoard when configured; no validation).
        print_fn: where progress lines go.
        fork: optional {"workdir", "checkpoint", "step"} of another run whose checkpoint
            starts this one when its own workdir has none (`wsol_tf.training.workdir`).
    """

    def __init__(
        self, config, model, optimizer, method, train_records, strategy, *, callbacks=None,
        print_fn=print, fork=None,
    ):  # fmt: skip
        self.config = config
        self.model, self.optimizer, self.method = model, optimizer, method
        self.records = train_records
        self.fork = fork
        self.skip_log = SkipLog()  # this run's unreadable training images
        self.strategy = strategy
        self.chief = distribute.is_chief(strategy)
        self.print = print_fn if self.chief else (lambda *_: None)
        self.callbacks = list(
            default_callbacks(config, train_records) if callbacks is None else callbacks
        )
        self.history = []
        # Each worker reads its shard (len // workers images) in per-worker batches.
        workers = distribute.num_workers(strategy)
        self.data_steps, self.steps_per_epoch = distribute.steps_per_epoch(
            config, train_records, workers
        )
        self.total_steps = config.epochs * self.steps_per_epoch
        with strategy.scope():
            # Steps taken; fixes the epoch, the data position and the schedule on resume.
            self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.kernels = regularized_kernels(model)
        self.regularizers = regularizers.active(config)
        prefixes = models.spec(config.model).new_layer_prefixes + tuple(method.new_layer_prefixes)
        self.multipliers = gradient_multipliers(
            optimizer, lr_multipliers(model, config.lr_groups, prefixes, method.lr_factors())
        )
        self.checkpoint = tf.train.Checkpoint(
            model=model,
            optimizer=optimizer,
            global_step=self.global_step,
            random_state=random_state_variables(model),
        )
        # Only the chief keeps checkpoints; other workers write theirs to a scratch
        # folder (every worker must take part in saving) and delete it.
        checkpoint_dir = os.path.join(config.workdir, "checkpoints")
        if not self.chief:
            checkpoint_dir = os.path.join(
                config.workdir, f"worker_{distribute.task_id(strategy)}_scratch"
            )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, checkpoint_dir, max_to_keep=config.keep_checkpoints
        )
        # One step per call (the default steps_per_loop=1) is traced without the loop: the
        # loop's graph holds the step twice (its first step fixes the sums' structure), which
        # doubled the tracing time of every run for nothing.
        if config.steps_per_loop == 1:
            self._train_loop = tf.function(self._distributed_single_step)
        else:
            self._train_loop = tf.function(self._distributed_loop)

    @classmethod
    def from_config(
        cls, config, train_records, strategy, print_fn=print, val_records=None, fork=None
    ):
        """A Trainer with the parts `build_parts` makes from `config` and the default
        callbacks (`val_records`: validated after each epoch, best/ kept by
        `config.best_metric`)."""
        _, steps = distribute.steps_per_epoch(
            config, train_records, distribute.num_workers(strategy)
        )
        model, optimizer, method = build_parts(config, strategy, train_records.num_classes, steps)
        return cls(
            config, model, optimizer, method, train_records, strategy,
            callbacks=default_callbacks(config, train_records, val_records),
            print_fn=print_fn, fork=fork,
        )  # fmt: skip

    @property
    def step(self):
        return int(self.global_step.numpy())

    def _augment_seeds(self, step, local_batch):
        """(B, 2) int64 stateless seeds, one per example, from (run seed, step, the example's
        position in the global batch): the same draws however the batch is split among
        replicas, and again after a resume."""
        replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int64)
        base = tf.constant([self.config.seed, 0], tf.int64)
        base = tf.random.experimental.stateless_fold_in(base, tf.cast(step, tf.int64))
        local = tf.cast(local_batch, tf.int64)
        positions = replica * local + tf.range(local, dtype=tf.int64)  # (B,)
        return tf.stack([tf.fill([local_batch], base[0]), base[1] + positions], axis=1)

    def _replica_step(self, batch, step):
        """One step on this replica's batch through the method's hooks; returns sums to log."""
        config = self.config
        method = self.method
        batch = method.augment(batch, self._augment_seeds(step, tf.shape(batch["label"])[0]))
        labels = batch["label"]
        with tf.GradientTape() as tape:
            outputs = method.forward(self.model, batch, training=True)
            per_example, logs = method.loss(outputs, batch)
            logs = dict(logs)
            for field, (weight, term) in self.regularizers.items():
                value = term(outputs, batch)
                per_example = per_example + weight * value
                logs[field.removesuffix("_weight")] = value
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=config.batch_size)
            if config.weight_decay > 0 and config.l2_in_loss:
                penalty = config.weight_decay * tf.add_n(
                    [tf.nn.l2_loss(tf.cast(k, tf.float32)) for k in self.kernels]
                )
                loss += tf.nn.scale_regularization_loss(penalty)
            scaled_loss = (
                self.optimizer.scale_loss(loss)
                if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)
                else loss
            )
        variables = self.model.trainable_variables
        gradients = tape.gradient(scaled_loss, variables)
        # Learning-rate groups (SGD; Adam takes them as per-variable rates): scaling a variable's
        # gradient scales its step exactly as a per-variable learning rate would.
        gradients = [
            g if m == 1.0 else g * tf.cast(m, g.dtype)
            for g, m in zip(gradients, self.multipliers, strict=True)
        ]
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        predictions = tf.argmax(outputs["logits"], -1, output_type=tf.int32)
        correct = tf.reduce_sum(tf.cast(tf.equal(predictions, labels), tf.float32))
        sums = {
            "loss": tf.reduce_sum(per_example),
            "correct": correct,
            "count": tf.cast(tf.shape(labels)[0], tf.float32),
        }
        sums.update({name: tf.reduce_sum(tf.cast(v, tf.float32)) for name, v in logs.items()})
        return sums

    def _distributed_step(self, iterator, step):
        results = self.strategy.run(self._replica_step, args=(next(iterator), step))
        return {
            name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in results.items()
        }

    def _distributed_single_step(self, iterator, num_steps):
        del num_steps  # always 1: the caller never asks for more than steps_per_loop
        return self._distributed_step(iterator, self.global_step.read_value())

    def _distributed_loop(self, iterator, num_steps):
        # The first step fixes the structure of the sums (the method's logged values).
        start = self.global_step.read_value()
        totals = self._distributed_step(iterator, start)
        for i in tf.range(1, num_steps):
            totals = tf.nest.map_structure(
                tf.add, totals, self._distributed_step(iterator, start + tf.cast(i, tf.int64))
            )
        return totals

    def _iterator(self, data_epoch, skip_batches):
        def dataset_fn(input_context):
            dataset = make_dataset(
                self.records,
                training=True,
                image_size=self.config.image_size,
                resize_size=self.config.resize_size,
                batch_size=self.config.batch_size,
                seed=self.config.seed,
                epoch=data_epoch,
                input_context=input_context,
                train_augment=self.config.train_augment,
                skip_log=self.skip_log,
            )
            # Unreadable files are skipped (and logged), which can leave an epoch a batch
            # short: repeat so every data epoch serves its full data_steps.
            dataset = dataset.repeat()
            # Each global step takes one per-replica batch per local replica.
            local_replicas = self.strategy.num_replicas_in_sync // input_context.num_input_pipelines
            return dataset.skip(skip_batches * local_replicas) if skip_batches else dataset

        return iter(self.strategy.distribute_datasets_from_function(dataset_fn))

    def restore(self):
        """Restores the workdir's latest checkpoint (else the fork's), if any; returns the
        global step. A kept checkpoint whose files are damaged is skipped, with a warning
        naming the file, for the newest intact one; `DamagedCheckpoint` when none is intact
        (or the fork's is damaged); ValueError (one line) when it does not fit the model."""
        from wsol_tf.runs.checkpoints import kept_checkpoints, restore_intact

        checkpoint_dir = os.path.join(self.config.workdir, "checkpoints")
        kept = kept_checkpoints(checkpoint_dir)  # every worker reads the same files
        fork = (self.fork or {}).get("checkpoint")
        candidates = kept or ([fork] if fork else [])
        if not candidates:
            return self.step

        def restore(source):
            try:
                self.checkpoint.restore(source).assert_existing_objects_matched()
            except (AssertionError, ValueError, tf.errors.OpError) as error:
                text = str(error).strip()
                raise ValueError(
                    f"checkpoint {source} does not fit this run's model ({self.config.model}, "
                    f"method {self.config.method}): "
                    + (text.splitlines()[0][:200] if text else type(error).__name__)
                ) from None

        hint = (
            " Pass --noresume to move the run aside and start over."
            if kept
            else f" (the checkpoint --fork_from={self.fork['workdir']} starts from)"
        )
        source = restore_intact(
            candidates, restore, self.print, using="resuming from",
            kept_in=checkpoint_dir if kept else None, hint=hint,
        )  # fmt: skip
        if kept and source != kept[0] and self.chief:
            from wsol_tf.training.workdir import record_fallback

            record_fallback(self.config.workdir, self.step, kept[: kept.index(source)])
        what = "Resumed from" if kept else f"Forked from {self.fork['workdir']}:"
        self.print(f"{what} {source} (step {self.step}).")
        return self.step

    def current_lr(self):
        return float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))

    def _save(self, step):
        save_checkpoint(self.manager, step)  # a failed save leaves no partial files
        if not self.chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)

    def train(self, resume=True):
        """Runs the remaining steps; returns the per-epoch log (also in train_log.json).

        An epoch resumed in the middle continues the running loss and accuracy saved with its
        last checkpoint (`epoch_progress.json`), so its log line covers the whole epoch; when
        they cannot be found, the record says `resumed_at_step` (its numbers then cover the
        steps from there on). An epoch's record is saved there before its checkpoint: a run
        killed after the checkpoint, before the log, validates and logs that epoch on resume.
        """
        config = self.config
        if self.chief:
            self._remove_dead_writes()
        step = self.restore() if resume else 0
        self.history = history = self._earlier_history(step) if step else []
        for callback in self.callbacks:
            callback.on_train_begin(self, step)
        if step:
            self._log_unlogged_epoch(step, history)
        progress = Progress(self.total_steps, self.print, config.log_every)
        while step < self.total_steps:
            epoch = step // self.steps_per_epoch
            epoch_start = epoch * self.steps_per_epoch
            epoch_end = epoch_start + self.steps_per_epoch
            started = time.perf_counter()
            totals, earlier_seconds, resumed_at = {}, 0.0, None
            if step > epoch_start:  # resumed in the middle of this epoch
                saved = self._epoch_progress(step)
                if saved is not None:
                    totals, earlier_seconds = saved["totals"], saved["seconds"]
                else:
                    resumed_at = step
            restored_images = totals.get("count", 0.0)
            progress.start_epoch(
                epoch + 1, config.epochs, step, self.steps_per_epoch, epoch_start=epoch_start
            )
            if step > epoch_start:
                covered = "restored" if resumed_at is None else "from this step on"
                self.print(
                    f"epoch {epoch + 1}/{config.epochs}: resumed at step "
                    f"{step - epoch_start}/{self.steps_per_epoch} (running loss and accuracy: "
                    f"{covered})"
                )
            iterator, iterator_epoch = None, None
            while step < epoch_end:
                data_epoch, offset = divmod(step, self.data_steps)
                if iterator_epoch != data_epoch:
                    iterator, iterator_epoch = self._iterator(data_epoch, offset), data_epoch
                num_steps = min(
                    config.steps_per_loop,
                    epoch_end - step,
                    self.data_steps - offset,
                    config.checkpoint_every_steps - step % config.checkpoint_every_steps
                    if config.checkpoint_every_steps
                    else self.total_steps,
                )
                try:
                    sums = self._train_loop(iterator, tf.constant(num_steps))
                except tf.errors.OutOfRangeError:
                    # The pipeline skips unreadable images; too few left fill no batch.
                    if not len(self.skip_log):
                        raise
                    raise ValueError(self._too_few_readable()) from None
                loop_totals = {k: float(v) for k, v in sums.items()}
                step += num_steps
                self.global_step.assign(step)
                if not math.isfinite(loop_totals["loss"]):
                    raise FloatingPointError(self._diverged(loop_totals["loss"], step, epoch))
                totals = {k: totals.get(k, 0.0) + v for k, v in loop_totals.items()}
                count = totals["count"]
                lr = self.current_lr()
                progress.update(
                    step,
                    totals["loss"] / count,
                    100 * totals["correct"] / count,
                    lr,
                    count - restored_images,
                )
                if progress.logged:
                    logs = {
                        "loss": totals["loss"] / count,
                        "accuracy": 100 * totals["correct"] / count,
                        "learning_rate": lr,
                        "images_per_second": progress.images_per_second(count - restored_images),
                        **{name: totals[name] / count for name in _method_logs(totals)},
                    }
                    for callback in self.callbacks:
                        callback.on_log(self, step, logs)
                if config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0:
                    if step < epoch_end:
                        seconds = earlier_seconds + time.perf_counter() - started
                        self._save_epoch_progress(step, epoch + 1, totals, seconds)
                        self._save(step)
            seconds = earlier_seconds + time.perf_counter() - started
            record = self._epoch_record(epoch + 1, step, totals, seconds, resumed_at)
            skipped = self.skip_log.to_json()
            record["num_unreadable_files"] = skipped["num_skipped"]
            if skipped["num_skipped"] and self.chief:
                write_json(os.path.join(config.workdir, "unreadable_files.json"), skipped)
            # The record goes to disk before its checkpoint: a kill between the checkpoint
            # and the log loses no epoch (`_log_unlogged_epoch`).
            self._save_epoch_progress(step, epoch + 1, totals, seconds, record)
            self._save(step)
            self._finish_epoch(record, history)
        return history

    def _epoch_record(self, epoch, step, totals, seconds, resumed_at):
        """An epoch's line of train_log.json from its running sums (validation comes later)."""
        count = totals["count"]
        record = {
            "epoch": epoch,
            "step": step,
            "loss": totals["loss"] / count,
            "accuracy": 100 * totals["correct"] / count,
            "lr": self.current_lr(),
            "images_per_second": count / seconds,
            "seconds": seconds,
            **{name: totals[name] / count for name in _method_logs(totals)},
        }
        if resumed_at is not None:
            record["resumed_at_step"] = resumed_at
        return record

    def _finish_epoch(self, record, history):
        """After an epoch's checkpoint: the record joins the history, then the callbacks
        (the default ones: validation and best/, the log, TensorBoard)."""
        history.append(record)
        for callback in self.callbacks:
            callback.on_epoch_end(self, record)

    def _log_unlogged_epoch(self, step, history):
        """The run was killed after the checkpoint of an epoch's end (`step`), before that
        epoch's log record was written: the record saved with the checkpoint is validated
        (the restored weights are the epoch's) and logged now, as the run would have."""
        entry = step_progress(self.config.workdir, step)
        if entry is None or "record" not in entry or any(h["step"] == step for h in history):
            return
        self.print(
            f"epoch {entry['epoch']}: the run stopped after its checkpoint, before its log; "
            "logging it now"
            + (" (validation included)." if any(c.validates for c in self.callbacks) else ".")
        )
        self._finish_epoch(dict(entry["record"]), history)

    def _remove_dead_writes(self):
        """Removes what writes killed in an earlier session left: checkpoint `_temp` folders
        and a best/ being written (only names these writes use)."""
        workdir = self.config.workdir
        removed = remove_dead_checkpoint_writes(os.path.join(workdir, "checkpoints"))
        removed += remove_dead_temporaries(os.path.join(workdir, "best"))
        if removed:
            self.print(f"Removed what killed writes left in {workdir}: {', '.join(removed)}.")

    def _too_few_readable(self):
        """The message when the readable training images fill no batch; writes
        unreadable_files.json (the chief) so the files to fix are listed."""
        skipped = self.skip_log.to_json()
        path = os.path.join(self.config.workdir, "unreadable_files.json")
        if self.chief:
            write_json(path, skipped)
        total = len(self.records)
        readable = total - skipped["num_skipped"]
        names = ", ".join(e["path"] for e in skipped["skipped"][:3])
        more = ", ..." if skipped["num_skipped"] > 3 else ""
        return (
            f"only {readable} of {total} images of split train are readable (fewer than "
            f"--batch_size={self.config.batch_size}): {names}{more} (each with why in {path}). "
            "Replace or remove the unreadable files, or lower --batch_size."
        )

    def _diverged(self, loss, step, epoch):
        """The message of a diverged loss: where, the last good checkpoint, what to try."""
        last = self.manager.latest_checkpoint or "none (no checkpoint was saved yet)"
        hint = "lower --lr"
        if self.config.precision not in ("float32", "float64"):  # only then is it a remedy
            hint += " or use --precision=float32"
        return (
            f"Loss became {loss} at step {step} (epoch {epoch + 1}, precision "
            f"{self.config.precision}); stopped. The last good checkpoint is {last}; {hint}."
        )

    def _earlier_history(self, step):
        """train_log.json's epochs up to `step` (a fork's: its parent's, marked)."""
        own = os.path.join(self.config.workdir, "train_log.json")
        if os.path.isfile(own):  # read_json: a damaged log is named
            return [h for h in read_json(own, list) if h["step"] <= step]
        if self.fork:
            parent = os.path.join(self.fork["workdir"], "train_log.json")
            if os.path.isfile(parent):
                return [{**h, "run": self.fork["workdir"]} for h in read_json(parent, list)
                        if h["step"] <= step]  # fmt: skip
        return []

    def _save_epoch_progress(self, step, epoch, totals, seconds, record=None):
        """Before a checkpoint: the callbacks get the epoch's running sums (and at its end its
        record; `RunLog` writes them, read back on resume by `_epoch_progress`)."""
        for callback in self.callbacks:
            callback.on_checkpoint(self, step, epoch, totals, seconds, record)

    def _epoch_progress(self, step):
        """The saved running sums at `step` (this run's, else its fork source's), or None."""
        for workdir in (self.config.workdir, (self.fork or {}).get("workdir")):
            saved = step_progress(workdir, step) if workdir else None
            if saved is not None:
                return saved
        return None


def _method_logs(totals):
    """Names of the per-example values a method or regularizer logs (beyond loss/accuracy)."""
    return [k for k in totals if k not in ("loss", "correct", "count")]


def latest_checkpoint(workdir):
    return tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
