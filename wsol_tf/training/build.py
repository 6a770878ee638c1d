"""A run's parts, built from its config: the model, its optimizer and its method.

`build_parts` creates them as a run always has: the seed set first, then under the
strategy's scope the model (its precision policy, frozen or synchronized batch norm), the
SGD optimizer with its warmup schedule (and loss scaling under mixed precision) and the
optimizer's slots. The `Trainer` is handed what it returns; the order of creation fixes the
variables' names and initial values, so it is kept exactly.
"""

import keras

from wsol_tf.models.layer_walk import all_layers
from wsol_tf.runs.model import build_wsol_model
from wsol_tf.training.schedules import WarmupSchedule
from wsol_tf.training.sync_batch_norm import synchronize_batch_norm


def regularized_kernels(model):
    """The kernels weight decay applies to: every conv and FC kernel, as Tensorpack's
    '.*/W' (no biases, no batch norm)."""
    return [
        layer.kernel
        for layer in all_layers(model)
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)
    ]


def build_parts(config, strategy, num_classes, steps_per_epoch):
    """(model, optimizer, method) of a validated `TrainConfig`, created under
    `strategy.scope()`; `steps_per_epoch` (global steps) fixes the learning-rate schedule."""
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = build_model(config, num_classes)
        optimizer = build_optimizer(config, steps_per_epoch)
        if not config.l2_in_loss:
            # As the L2 mode: decay conv and dense kernels only, not biases or BN.
            kernel_ids = {id(k) for k in regularized_kernels(model)}
            inner_optimizer(optimizer).exclude_from_weight_decay(
                var_list=[v for v in model.trainable_variables if id(v) not in kernel_ids]
            )
        optimizer.build(model.trainable_variables)
    return model, optimizer, model.method


def build_model(config, num_classes):
    """The run's model (with its method) under the run's precision policy."""
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        model = build_wsol_model(config, num_classes, pretrained=config.pretrained)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    if config.freeze_through is not None:
        # Every layer whose output the position depends on: they keep their weights, and
        # (not trainable) batch norm runs on its moving statistics there.
        upstream = keras.Model(
            model.backbone.input, model.backbone.get_layer(config.freeze_through).output
        )
        for layer in upstream.layers:
            layer.trainable = False
    if config.freeze_batch_norm:
        # Keras runs a non-trainable BatchNormalization in inference mode: moving
        # statistics, no update, no trained gamma/beta.
        for layer in all_layers(model):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    if config.sync_batch_norm:
        # Batch statistics over all replicas: the result does not depend on how the
        # global batch is split.
        synchronize_batch_norm(model)
    return model


def build_optimizer(config, steps_per_epoch):
    """SGD (momentum, Nesterov), Adam or AdamW, with decoupled weight decay as configured, on
    the warmup schedule; wrapped in a LossScaleOptimizer under mixed_float16."""
    schedule = WarmupSchedule(
        config.lr,
        config.epochs * steps_per_epoch,
        kind=config.lr_schedule,
        boundaries=[e * steps_per_epoch for e in config.lr_decay_epochs],
        decay=config.lr_decay,
        warmup_steps=int(round(config.warmup_epochs * steps_per_epoch)),
    )
    decoupled = None if config.l2_in_loss else config.weight_decay
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate=schedule,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=decoupled,
        )
    else:  # adam, adamw: Adam with decoupled weight decay (keras' AdamW is the same update)
        optimizer = GroupedAdam(learning_rate=schedule, weight_decay=decoupled)
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


@keras.saving.register_keras_serializable(package="wsol_tf")
class GroupedAdam(keras.optimizers.Adam):
    """Adam whose learning rate is multiplied per variable (the `--lr_groups` factors).

    Adam's step does not change when a gradient is scaled, so the groups cannot be applied
    to gradients as they are for SGD; `set_lr_factors` gives one factor per variable, in the
    order of the variables the optimizer was built with.
    """

    def set_lr_factors(self, factors):
        self._lr_factors = [float(f) for f in factors]

    def update_step(self, gradient, variable, learning_rate):
        factors = getattr(self, "_lr_factors", None)
        if factors is not None:
            factor = factors[self._get_variable_index(variable)]
            if factor != 1.0:
                learning_rate = learning_rate * factor
        super().update_step(gradient, variable, learning_rate)


def gradient_multipliers(optimizer, multipliers):
    """The per-variable factors the training step applies to gradients: the learning-rate
    groups themselves for SGD, where scaling a gradient scales its step exactly (momentum
    included); ones for Adam, which takes them as learning-rate factors instead."""
    inner = inner_optimizer(optimizer)
    if isinstance(inner, GroupedAdam):
        inner.set_lr_factors(multipliers)
        return [1.0] * len(multipliers)
    return list(multipliers)


def inner_optimizer(optimizer):
    """The optimizer a LossScaleOptimizer wraps (else `optimizer` itself)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.inner_optimizer
    return optimizer
