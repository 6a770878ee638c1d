"""The custom training loop: a tf.function step run under a tf.distribute strategy."""

import json
import math
import os
import time

import keras
import tensorflow as tf

from wsol_tf import models
from wsol_tf.data.pipeline import make_dataset


def _regularized_kernels(model):
    # Tensorpack regularizes conv and FC kernels only (no biases, no BN).
    return [
        layer.kernel
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)
    ]


class Trainer:
    """Trains a WSOL model with SGD under a strategy, checkpointing every epoch.

    Args:
        config: a validated `wsol_tf.config.TrainConfig`.
        train_records: `Records` of the training split.
        strategy: a `tf.distribute.Strategy` (the default strategy works too).
        print_fn: where progress lines go.
    """

    def __init__(self, config, train_records, strategy, print_fn=print):
        self.config = config
        self.records = train_records
        self.strategy = strategy
        self.print = print_fn
        self.steps_per_epoch = len(train_records) // config.batch_size
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"--batch_size={config.batch_size} is larger than the training split "
                f"({len(train_records)} images from {train_records.source})."
            )
        keras.utils.set_random_seed(config.seed)
        with strategy.scope():
            self.model = models.build(
                config.model,
                train_records.num_classes,
                method=config.method,
                positions=config.resolved_positions,
                image_size=config.image_size,
                drop_rate=config.drop_rate,
                gamma=config.resolved_gamma,
                seed=config.seed,
            )
            self.schedule = self._learning_rate_schedule()
            self.optimizer = keras.optimizers.SGD(
                learning_rate=self.schedule, momentum=config.momentum, nesterov=config.nesterov
            )
            self.optimizer.build(self.model.trainable_variables)
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.kernels = _regularized_kernels(self.model)
        self.checkpoint = tf.train.Checkpoint(
            model=self.model,
            optimizer=self.optimizer,
            epoch=self.epoch,
            random_state=random_state_variables(self.model),
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(config.workdir, "checkpoints"), max_to_keep=3
        )
        self._train_step = tf.function(self._distributed_step)

    def _learning_rate_schedule(self):
        config = self.config
        if config.lr_schedule == "cosine":
            total_steps = config.epochs * self.steps_per_epoch
            return keras.optimizers.schedules.CosineDecay(config.lr, total_steps)
        boundaries = [e * self.steps_per_epoch for e in config.lr_decay_epochs]
        if not boundaries:
            return config.lr
        values = [config.lr * config.lr_decay**i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)

    def _replica_step(self, batch):
        images, labels = batch["image"], batch["label"]
        with tf.GradientTape() as tape:
            logits = self.model(images, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True
            )
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.config.batch_size)
            if self.config.weight_decay > 0:
                penalty = self.config.weight_decay * tf.add_n(
                    [tf.nn.l2_loss(k) for k in self.kernels]
                )
                # The penalty is added once per replica; scale so the sum counts once.
                loss += tf.nn.scale_regularization_loss(penalty)
        variables = self.model.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        correct = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
        )
        loss_sum = tf.reduce_sum(per_example)
        return loss_sum, correct, tf.cast(tf.shape(labels)[0], tf.float32)

    def _distributed_step(self, batch):
        results = self.strategy.run(self._replica_step, args=(batch,))
        return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results]

    def _dataset(self, epoch):
        def dataset_fn(input_context):
            return make_dataset(
                self.records,
                training=True,
                image_size=self.config.image_size,
                resize_size=self.config.resize_size,
                batch_size=self.config.batch_size,
                seed=self.config.seed,
                epoch=epoch,
                input_context=input_context,
            )

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def restore(self):
        """Restores the latest checkpoint of the workdir, if any; returns the epoch to start."""
        latest = self.manager.latest_checkpoint
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            self.print(f"Resumed from {latest} (epoch {int(self.epoch.numpy())}).")
        return int(self.epoch.numpy())

    def current_lr(self):
        lr = self.optimizer.learning_rate
        return float(keras.ops.convert_to_numpy(lr))

    def train(self, resume=True):
        """Runs the remaining epochs; returns the per-epoch log (also in train_log.json)."""
        config = self.config
        start_epoch = self.restore() if resume else 0
        log_path = os.path.join(config.workdir, "train_log.json")
        history = []
        if resume and start_epoch and os.path.isfile(log_path):
            with open(log_path) as f:
                history = json.load(f)[:start_epoch]
        total_steps = config.epochs * self.steps_per_epoch
        for epoch in range(start_epoch, config.epochs):
            started = time.perf_counter()
            loss_sum = correct = seen = 0.0
            for step, batch in enumerate(self._dataset(epoch), start=1):
                batch_loss, batch_correct, batch_seen = self._train_step(batch)
                loss_sum += float(batch_loss)
                correct += float(batch_correct)
                seen += float(batch_seen)
                if not math.isfinite(loss_sum):
                    raise FloatingPointError(
                        f"Loss became {loss_sum} at epoch {epoch + 1}, step {step}; the last good "
                        f"checkpoint is {self.manager.latest_checkpoint}. Lower --lr."
                    )
                if step % config.log_every == 0 or step == self.steps_per_epoch:
                    elapsed = time.perf_counter() - started
                    done = epoch * self.steps_per_epoch + step
                    eta = elapsed / step * (total_steps - done)
                    self.print(
                        f"epoch {epoch + 1}/{config.epochs} step {step}/{self.steps_per_epoch} "
                        f"loss {loss_sum / seen:.4f} acc {100 * correct / seen:.1f}% "
                        f"lr {self.current_lr():.4g} {seen / elapsed:.1f} img/s "
                        f"ETA {eta:.0f}s"
                    )
            seconds = time.perf_counter() - started
            self.epoch.assign(epoch + 1)
            self.manager.save(checkpoint_number=epoch + 1)
            history.append(
                {
                    "epoch": epoch + 1,
                    "loss": loss_sum / seen,
                    "accuracy": 100 * correct / seen,
                    "lr": self.current_lr(),
                    "images_per_second": seen / seconds,
                    "seconds": seconds,
                }
            )
            with open(log_path, "w") as f:
                json.dump(history, f, indent=2)
        return history


def random_state_variables(model):
    """The model's state that is not weights: the seeds of its random layers (ADL).

    Keras does not hand these to tf.train.Checkpoint through the model, so the
    trainer checkpoints them itself; a resumed run then continues the same
    random sequence as an uninterrupted one.
    """
    weight_ids = {id(w) for w in model.weights}
    return {
        f"state_{i}": v for i, v in enumerate(v for v in model.variables if id(v) not in weight_ids)
    }


def latest_checkpoint(workdir):
    return tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))


def restore_model(model, checkpoint_path):
    """Loads a training checkpoint's model weights into `model` (optimizer state ignored)."""
    status = tf.train.Checkpoint(model=model).restore(checkpoint_path)
    status.expect_partial()
    status.assert_existing_objects_matched()
    return model
