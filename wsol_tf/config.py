"""A training run's settings: one dataclass, validated before any data is read."""

import dataclasses
import json
import os

from wsol_tf import models
from wsol_tf.data.datasets import DATASETS, NEEDS_DATA_DIR
from wsol_tf.data.pipeline import as_hw

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
LR_SCHEDULES = ("step", "cosine")
LR_GROUP_RULES = ("none", "pretrained_0.1", "new_10")
WEIGHT_DECAY_MODES = ("l2", "decoupled")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "float64")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; saved as config.json in the workdir.

    Attributes:
        model: backbone name (see `wsol_tf.models.BACKBONES`).
        experiment: the `wsol_tf.experiments` module the settings came from.
        pretrained: None (random init), "imagenet" (keras.applications
            weights) or a weights file (.h5 / Tensorpack .npz).
        dataset: one of `wsol_tf.data.datasets.DATASETS`: "synthetic" (embedded,
            generated), "cub" (CUB_200_2011 layout), "imagenet", "wsol_metadata",
            "tfds_cub", "tfds_pets", "tfds_imagenet", "folder".
        data_dir: dataset folder; for "synthetic" the cache folder (None: default).
        method: "cam" (vanilla) or "adl".
        drop_rate: ADL drop_rate (Tensorpack's keep_prob 0.25 is drop_rate 0.75).
        gamma: ADL gamma; None means the backbone's default.
        adl_variant: "both" (ADL), or the paper's Table 1 ablations "drop_mask_only" /
            "importance_map_only" (the other branch passes the features through).
        positions: ADL position names; None means the backbone's defaults.
        last_stride: stride of the backbone's last strided conv, for backbones that offer
            it (efficientnet_lite*: 2 as on ImageNet, 1 doubles the CAM's resolution);
            None means the backbone's own.
        freeze_batch_norm: batch norm layers keep their (ImageNet) statistics and
            parameters: not trained, normalized with the moving statistics.
        epochs: number of epochs.
        batch_size: global batch size (split among replicas).
        lr: base learning rate of SGD.
        lr_schedule: "step" (multiply by lr_decay at each of lr_decay_epochs,
            Tensorpack's schedule) or "cosine" (cosine decay to 0 over the run).
        lr_decay_epochs: epochs at which the step schedule multiplies by lr_decay.
        lr_decay: the factor applied at each of lr_decay_epochs.
        momentum: SGD momentum.
        nesterov: Nesterov momentum (Tensorpack's choice).
        weight_decay: L2 penalty wd * sum(kernel**2) / 2 on conv and dense
            kernels, as Tensorpack's regularizer adds it to the loss.
        image_size: (h, w) network input.
        resize_size: (h, w) before cropping; None means image_size * 256 / 224.
        train_augment: "crop_flip" (resize, random crop, flip: Tensorpack) or
            "random_resized_crop" (wsolevaluation).
        eval_resize: "crop" (resize to resize_size, center crop: Tensorpack)
            or "resize" (straight to image_size: wsolevaluation).
        val_per_class: hold out this many training images per class as the
            "val" split (CUB layouts; fixed seed), for choosing hyperparameters
            without touching test.
        seed: seed of initialization, data order, augmentation and ADL draws.
        workdir: where checkpoints, config.json and logs go.
        strategy: "auto" (MirroredStrategy over visible GPUs, else the default
            strategy), "one_device", "mirrored" or "multi_worker" (TF_CONFIG).
        cpu_replicas: split the CPU into N logical devices (mirrored path
            without GPUs); 0 leaves it whole.
        log_every: steps between progress lines.
        steps_per_epoch: steps of one training epoch; None means one pass over
            the data. Tensorpack counts epochs in fixed steps (CUB: 1000 at
            batch 32) and cycles the data.
        steps_per_loop: training steps per tf.function call.
        weight_decay_mode: "l2" (penalty in the loss, Tensorpack) or
            "decoupled" (SGD's decoupled decay).
        lr_groups: "none"; "pretrained_0.1" (Tensorpack: backbone layers at
            0.1x); "new_10" (wsolevaluation: new head layers at 10x).
        warmup_epochs: linear warmup length in epochs (may be fractional).
        precision: "float32", "mixed_float16" (with loss scaling),
            "mixed_bfloat16", or "float64" (slow; for numerical checks).
        sync_batch_norm: batch statistics over all replicas, so a run's
            result does not depend on the number of replicas.
        checkpoint_every_steps: also checkpoint every N steps (0: epochs only).
        keep_checkpoints: how many recent checkpoints to keep.
        val_split: split evaluated after each epoch to keep the best
            checkpoint (None: no validation).
        best_metric: metric of val_split that picks the best checkpoint.
        deterministic: enable TensorFlow op determinism (bitwise reruns).
        tensorboard: write TensorBoard scalars and CAM overlays.
    """

    model: str = "tinyvgg"
    experiment: str | None = None
    pretrained: str | None = None
    dataset: str = "synthetic"
    data_dir: str | None = None
    method: str = "adl"
    drop_rate: float = 0.75
    gamma: float | None = None
    adl_variant: str = "both"
    positions: tuple | None = None
    last_stride: int | None = None
    freeze_batch_norm: bool = False
    epochs: int = 20
    batch_size: int = 32
    lr: float = 0.02
    lr_schedule: str = "step"
    lr_decay_epochs: tuple = ()
    lr_decay: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    image_size: tuple = (96, 96)
    resize_size: tuple | None = None
    train_augment: str = "crop_flip"
    eval_resize: str = "crop"
    val_per_class: int = 0
    seed: int = 0
    workdir: str = "workdirs/run"
    strategy: str = "auto"
    cpu_replicas: int = 0
    log_every: int = 10
    steps_per_epoch: int | None = None
    steps_per_loop: int = 1
    weight_decay_mode: str = "l2"
    lr_groups: str = "none"
    warmup_epochs: float = 0.0
    precision: str = "float32"
    sync_batch_norm: bool = True
    checkpoint_every_steps: int = 0
    keep_checkpoints: int = 3
    val_split: str | None = None
    best_metric: str = "top1_loc"
    deterministic: bool = False
    tensorboard: bool = True

    def __post_init__(self):
        if self.pretrained in ("", "none", "None"):
            self.pretrained = None  # `--pretrained=` or `--pretrained=none` turns a recipe's off
        self.image_size = _as_hw(self.image_size)
        self.resize_size = None if self.resize_size is None else _as_hw(self.resize_size)
        self.positions = None if self.positions is None else tuple(self.positions)
        self.lr_decay_epochs = tuple(int(e) for e in self.lr_decay_epochs)

    def validate(self):
        """Raises ValueError naming the flag and the valid values; reads no data."""
        module = models.backbone_module(self.model)  # names the valid models
        if self.dataset not in DATASETS:
            raise ValueError(f"--dataset={self.dataset!r}: valid datasets: {', '.join(DATASETS)}.")
        if self.dataset in NEEDS_DATA_DIR and not self.data_dir:
            raise ValueError(f"--dataset={self.dataset} needs --data_dir=<dataset folder>.")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"--strategy={self.strategy!r}: valid: {', '.join(STRATEGIES)}.")
        if self.method not in models.METHODS:
            raise ValueError(f"--method={self.method!r}: valid: {', '.join(models.METHODS)}.")
        _check(0.0 <= self.drop_rate <= 1.0, "drop_rate", self.drop_rate, "in [0, 1]")
        if self.gamma is not None:
            _check(0.0 < self.gamma <= 1.0, "gamma", self.gamma, "in (0, 1]")
        if self.positions is not None:
            unknown = [p for p in self.positions if p not in module.POSITIONS]
            if unknown:
                raise ValueError(
                    f"--adl_positions: unknown position {unknown[0]!r} for --model={self.model}; "
                    f"valid positions: {', '.join(module.POSITIONS)}."
                )
        if self.last_stride is not None:
            strides = getattr(module, "LAST_STRIDES", None)
            if strides is None:
                offering = [n for n, m in models.BACKBONES.items() if hasattr(m, "LAST_STRIDES")]
                raise ValueError(
                    f"--last_stride={self.last_stride}: --model={self.model} has no such option "
                    f"(backbones with it: {', '.join(offering)})."
                )
            valid = ", ".join(map(str, strides))
            _check(self.last_stride in strides, "last_stride", self.last_stride, f"one of {valid}")
        _check(self.epochs >= 1, "epochs", self.epochs, ">= 1")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        _check(self.lr > 0, "lr", self.lr, "> 0")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"--lr_schedule={self.lr_schedule!r}: valid: {', '.join(LR_SCHEDULES)}."
            )
        _check(0.0 < self.lr_decay <= 1.0, "lr_decay", self.lr_decay, "in (0, 1]")
        _check(0.0 <= self.momentum < 1.0, "momentum", self.momentum, "in [0, 1)")
        _check(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        _check(min(self.image_size) >= 16, "image_size", self.image_size, ">= 16 pixels")
        if self.resize_size is not None:
            ok = all(r >= i for r, i in zip(self.resize_size, self.image_size, strict=True))
            _check(ok, "resize_size", self.resize_size, f">= image_size {self.image_size}")
        _check(self.log_every >= 1, "log_every", self.log_every, ">= 1")
        _check(self.val_per_class >= 0, "val_per_class", self.val_per_class, ">= 0")
        _check(self.cpu_replicas >= 0, "cpu_replicas", self.cpu_replicas, ">= 0")
        if self.steps_per_epoch is not None:
            _check(self.steps_per_epoch >= 1, "steps_per_epoch", self.steps_per_epoch, ">= 1")
        _check(self.steps_per_loop >= 1, "steps_per_loop", self.steps_per_loop, ">= 1")
        _check(self.warmup_epochs >= 0, "warmup_epochs", self.warmup_epochs, ">= 0")
        _check(self.checkpoint_every_steps >= 0, "checkpoint_every_steps",
               self.checkpoint_every_steps, ">= 0")  # fmt: skip
        _check(self.keep_checkpoints >= 1, "keep_checkpoints", self.keep_checkpoints, ">= 1")
        for flag, value, valid in [
            ("weight_decay_mode", self.weight_decay_mode, WEIGHT_DECAY_MODES),
            ("lr_groups", self.lr_groups, LR_GROUP_RULES),
            ("precision", self.precision, PRECISIONS),
            ("train_augment", self.train_augment, ("crop_flip", "random_resized_crop")),
            ("eval_resize", self.eval_resize, ("crop", "resize")),
            ("best_metric", self.best_metric, ("top1_loc", "gt_known_loc", "top1_clas")),
            ("adl_variant", self.adl_variant, tuple(models.ADL_VARIANTS)),
        ]:
            if value not in valid:
                raise ValueError(f"--{flag}={value!r}: valid: {', '.join(valid)}.")
        if self.batch_size % max(self.cpu_replicas, 1):
            raise ValueError(
                f"--batch_size={self.batch_size} must be divisible by "
                f"--cpu_replicas={self.cpu_replicas}."
            )
        return self

    @property
    def eval_resize_size(self):
        """Resize before the evaluation center crop: image_size itself means no crop."""
        return self.image_size if self.eval_resize == "resize" else self.resize_size

    def split_options(self):
        """Options of `wsol_tf.data.datasets.load_split` for this run."""
        return {"val_per_class": self.val_per_class} if self.val_per_class else {}

    @property
    def resolved_gamma(self):
        return models.default_gamma(self.model) if self.gamma is None else self.gamma

    @property
    def resolved_positions(self):
        return models.default_positions(self.model) if self.positions is None else self.positions

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def save(self, workdir=None):
        path = os.path.join(workdir or self.workdir, "config.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, workdir):
        path = os.path.join(workdir, "config.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: is {workdir!r} a training workdir?")
        with open(path) as f:
            values = json.load(f)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def _as_hw(size):
    """Also parses the flags' strings: "96", "96,128" or "96x128"."""
    if isinstance(size, str):
        size = [int(s) for s in size.replace("x", ",").split(",") if s]
        size = size[0] if len(size) == 1 else size
    return as_hw(size)


def _check(ok, flag, value, expected):
    if not ok:
        raise ValueError(f"--{flag}={value} is invalid: must be {expected}.")
