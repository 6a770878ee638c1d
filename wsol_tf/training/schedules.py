"""Learning-rate schedules and per-variable learning-rate groups."""

import math

import keras
import tensorflow as tf

from wsol_tf.models.layer_walk import all_layers
from wsol_tf.runs.config import lr_group_factors

LR_SCHEDULES = ("step", "cosine")


@keras.saving.register_keras_serializable(package="wsol_tf")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup, then a step or cosine schedule, as a function of the global step.

    Args:
        base_lr: learning rate after warmup (before any decay).
        total_steps: length of the run in steps (for cosine).
        kind: "step" (multiply by `decay` at each step in `boundaries`,
            Tensorpack's schedule) or "cosine" (decay to 0 at `total_steps`).
        boundaries: steps at which the step schedule decays.
        decay: factor of each step decay.
        warmup_steps: steps of linear warmup from base_lr / warmup_steps.
    """

    def __init__(self, base_lr, total_steps, kind="step", boundaries=(), decay=0.1, warmup_steps=0):
        if kind not in LR_SCHEDULES:
            raise ValueError(f"lr schedule kind={kind!r}; valid: {', '.join(LR_SCHEDULES)}.")
        self.base_lr = float(base_lr)
        self.total_steps = int(total_steps)
        self.kind = kind
        self.boundaries = tuple(int(b) for b in boundaries)
        self.decay = float(decay)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        if self.kind == "cosine":
            progress = tf.clip_by_value(step / max(self.total_steps, 1), 0.0, 1.0)
            lr = 0.5 * self.base_lr * (1.0 + tf.cos(math.pi * progress))
        else:
            passed = tf.add_n([tf.cast(step >= b, tf.float32) for b in self.boundaries] + [0.0])
            lr = self.base_lr * tf.pow(self.decay, passed)
        if self.warmup_steps > 0:
            warmup = self.base_lr * (step + 1.0) / self.warmup_steps
            lr = tf.where(step < self.warmup_steps, tf.minimum(warmup, lr), lr)
        return lr

    def get_config(self):
        return {
            "base_lr": self.base_lr,
            "total_steps": self.total_steps,
            "kind": self.kind,
            "boundaries": self.boundaries,
            "decay": self.decay,
            "warmup_steps": self.warmup_steps,
        }


# The WSOL head (the added conv "features*" and the "classifier") never has ImageNet
# weights; backbones may name more layers that train at the full rate (Tensorpack keeps
# ResNet's last stage at 1x).
NEW_LAYER_PREFIXES = ("features", "classifier")


def is_new_layer(name, prefixes=NEW_LAYER_PREFIXES):
    """True for layers that the learning-rate groups treat as new (not pretrained)."""
    return name.startswith(tuple(prefixes))


def lr_multipliers(model, rule, new_layer_prefixes=NEW_LAYER_PREFIXES, layer_factors=None):
    """One learning-rate multiplier per trainable variable of `model`.

    Args:
        model: a WSOL model.
        rule: "none" (all 1); "pretrained_<f>" (backbone layers at f x, new layers at
            1x; Tensorpack's f = 0.1); "new_<f>" (new layers at f x, backbone at 1x;
            wsolevaluation's f = 10).
        new_layer_prefixes: layer-name prefixes of the new layers. Every variable of the
            method's head (`model.head`: ACoL's branches, SPG's side branches, ...) is new
            too, whatever its layers are named: no head comes from pretrained weights.
        layer_factors: {layer-name prefix: factor} (`Method.lr_factors`): a variable whose
            layer's name starts with a prefix has its group's factor multiplied by it.

    Returns:
        A list of floats aligned with `model.trainable_variables`.
    """
    pretrained_factor, new_factor = lr_group_factors(rule)
    owner = {}
    for layer in all_layers(model, include_self=False):
        for variable in layer.trainable_variables:
            owner[id(variable)] = layer.name  # depth first: the innermost layer wins
    head = getattr(model, "head", None)
    head_ids = {id(v) for v in head.trainable_variables} if head is not None else set()
    multipliers = []
    for variable in model.trainable_variables:
        new = id(variable) in head_ids or is_new_layer(
            owner.get(id(variable), ""), new_layer_prefixes
        )
        factor = new_factor if new else pretrained_factor
        for prefix, extra in (layer_factors or {}).items():
            if owner.get(id(variable), "").startswith(prefix):
                factor *= float(extra)
        multipliers.append(factor)
    return multipliers
