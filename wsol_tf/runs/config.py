"""A training run's settings: one dataclass, validated before any data is read.

Each field is written once: its default, its help and, for a choice, its valid values live in
the field's metadata; `python -m wsol_tf.train` generates its flags from them
(`wsol_tf.train_flags`), and `validate` checks every choice from the same list. The
method's own hyperparameters are the fields of its `Params` dataclass
(`wsol_tf.methods`), kept in `method_params`.
"""

import dataclasses
import functools
import json
import math
import os
import types
import typing

from wsol_tf import methods
from wsol_tf.data import datasets
from wsol_tf.data.datasets import DATASETS
from wsol_tf.data.sizes import as_hw
from wsol_tf.files import check_pattern_free, write_atomic
from wsol_tf.runs.cluster import STRATEGIES, check_cluster_config

LR_SCHEDULES = ("step", "cosine")
OPTIMIZERS = ("sgd", "adam", "adamw")
WEIGHT_DECAY_MODES = ("l2", "decoupled")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "float64")
TRAIN_AUGMENTS = ("crop_flip", "random_resized_crop")
EVAL_RESIZES = ("crop", "resize")
BEST_METRICS = ("top1_loc", "gt_known_loc", "top1_clas")
# Every float setting reaches TensorFlow as float32: a larger magnitude becomes inf there.
FLOAT32_MAX = 3.4028234663852886e38
# --seed seeds numpy (keras.utils.set_random_seed), which takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


# The config's groups, as Model Garden's config_definitions nests them: what the network is,
# what it reads, how it learns, the numerics of a step, and the runtime (where and how
# visibly a run executes; a run may resume with other runtime values, `RESUMABLE_FIELDS`).
GROUPS = ("model", "data", "optimization", "numerics", "runtime")


def _field(default, help, choices=None, kind=None, flag=True, *, group):  # noqa: A002
    """A config field with its flag help; `choices` is the one list a choice is checked
    against; `kind` "size" parses "96" / "96,128"; `flag` False: no flag is generated;
    `group` one of GROUPS."""
    assert group in GROUPS, group
    metadata = {"help": help, "choices": choices, "kind": kind, "flag": flag, "group": group}
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


_model = functools.partial(_field, group="model")
_data = functools.partial(_field, group="data")
_optimization = functools.partial(_field, group="optimization")
_numerics = functools.partial(_field, group="numerics")
_runtime = functools.partial(_field, group="runtime")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; saved as config.json in the workdir.

    Build one with `TrainConfig.from_settings(**settings)` to give the method's
    hyperparameters by name (e.g. drop_rate=0.5) rather than in `method_params`. Each
    field's help and group (`GROUPS`) are in its metadata (`python -m wsol_tf.train --help`
    prints them). Fields are read flat (`config.lr`); `config.group("optimization")` and
    `config.nested()` give them by group. config.json is flat, so a run's identity does not
    depend on the grouping; `load` also reads a nested file ({group: {field: value}}).
    """

    # --- model: the network and the WSOL method ---
    model: str = _model("tinyvgg", "Backbone name (wsol_tf.models.BACKBONES).")
    pretrained: str | None = _model(
        None, "None, 'imagenet', or a weights file (.h5, Tensorpack .npz, torch .pth)."
    )
    method: str = _model("adl", "WSOL method (wsol_tf.methods): " + ", ".join(methods.names()))
    method_params: dict = _model(
        {}, "The method's hyperparameters {field: value}; flags per field.", flag=False
    )
    positions: tuple | None = _model(
        None,
        "Positions (layer names) where the method inserts its layers; default: the method's "
        "defaults for the backbone (ADL: the paper's). Alias: --adl_positions.",
    )
    last_stride: int | None = _model(
        None,
        "Stride of the backbone's last strided conv, for backbones that offer it "
        "(efficientnet_lite*: 2 as on ImageNet, 1 for a 2x finer CAM); default: the backbone's.",
    )
    freeze_batch_norm: bool = _model(
        False,
        "Keep batch norm statistics and parameters (not trained; normalize with the moving "
        "statistics).",
    )
    freeze_through: str | None = _model(
        None,
        "Freeze the backbone up to and including this position (e.g. block3b_add): those layers "
        "keep their initial weights and batch-norm statistics and get no gradient (faster).",
    )
    entropy_weight: float = _model(
        0.0,
        "Entropy regularizer weight lambda (loss + lambda * KL(uniform || softmax)); "
        "composes with every method; 0: off.",
    )
    label_smoothing: float = _optimization(
        0.0,
        "Label smoothing eps of the classification loss: cross-entropy against (1 - eps) "
        "one-hot + eps / classes (Keras' label_smoothing); composes with every method; 0: off.",
    )
    # --- data: what the network reads ---
    dataset: str = _data(
        "synthetic", "Dataset: " + ", ".join(DATASETS) + ".", choices=DATASETS.names()
    )
    image_size: tuple = _data((96, 96), "Network input: N or H,W.", kind="size")
    resize_size: tuple | None = _data(
        None, "Resize before crop: N or H,W (default image * 256 / 224).", kind="size"
    )
    train_augment: str = _data(
        "crop_flip",
        "Training augmentation: Tensorpack's resize + random crop + flip, or wsolevaluation's.",
        choices=TRAIN_AUGMENTS,
    )
    eval_resize: str = _data(
        "crop",
        "Evaluation: resize + center crop (Tensorpack) or resize to the input (wsolevaluation).",
        choices=EVAL_RESIZES,
    )
    val_per_class: int = _data(0, "Hold out N training images per class as split 'val'.")
    # --- optimization: how it learns ---
    epochs: int = _optimization(20, "Number of epochs.")
    batch_size: int = _optimization(32, "Global batch size (split among replicas).")
    optimizer: str = _optimization(
        "sgd",
        "sgd (momentum, --nesterov), adam, or adamw (Adam with decoupled weight decay: "
        "--weight_decay is then lr-scaled and never an L2 loss term).",
        choices=OPTIMIZERS,
    )
    lr: float = _optimization(0.02, "Base learning rate.")
    lr_schedule: str = _optimization("step", "Learning-rate schedule.", choices=LR_SCHEDULES)
    lr_decay_epochs: tuple = _optimization(
        (), "Epochs (>= 1, e.g. 30,60) after which lr is multiplied by --lr_decay."
    )
    lr_decay: float = _optimization(0.1, "Step decay factor.")
    momentum: float = _optimization(0.9, "SGD momentum.")
    nesterov: bool = _optimization(True, "Nesterov momentum (Tensorpack's choice).")
    weight_decay: float = _optimization(1e-4, "Weight decay on conv and dense kernels.")
    weight_decay_mode: str = _optimization(
        "l2", "l2 (penalty in the loss, Tensorpack) or decoupled.", choices=WEIGHT_DECAY_MODES
    )
    lr_groups: str = _optimization(
        "none",
        "none, pretrained_<f> (pretrained layers at f x the lr: Tensorpack's pretrained_0.1) or "
        "new_<f> (new head layers at f x: wsolevaluation's new_10).",
    )
    warmup_epochs: float = _optimization(0.0, "Linear learning-rate warmup, in epochs.")
    steps_per_epoch: int | None = _optimization(
        None, "Steps per epoch (default: one pass over the data; Tensorpack: fixed steps)."
    )
    seed: int = _optimization(
        0, "Seed of initialization, data order, augmentation and method draws."
    )
    # --- numerics: how a step is computed ---
    precision: str = _numerics(
        "float32", "Compute precision (float64: slow, for numerical checks).", choices=PRECISIONS
    )
    sync_batch_norm: bool = _numerics(True, "Batch statistics over all replicas.")
    # --- runtime: where and how visibly it runs (may change on resume, with epochs) ---
    experiment: str | None = _runtime(None, "Experiment module the settings came from.", flag=False)
    data_dir: str | None = _runtime(None, "Dataset folder (synthetic: cache folder, optional).")
    follow_outside_links: bool = _runtime(
        False,
        "Read images (and masks) that annotation files name through symbolic links inside the "
        "dataset folder leading out of it (cub, wsol_metadata); refused by default.",
    )
    workdir: str = _runtime("workdirs/run", "Output folder (checkpoints, config.json, logs).")
    strategy: str = _runtime(
        "auto", "auto, one_device, mirrored or multi_worker (TF_CONFIG).", choices=STRATEGIES
    )
    cpu_replicas: int = _runtime(0, "Split the CPU into N logical devices (mirrored on CPU).")
    steps_per_loop: int = _runtime(1, "Training steps per tf.function call.")
    log_every: int = _runtime(10, "Steps between progress lines.")
    checkpoint_every_steps: int = _runtime(0, "Also checkpoint every N steps (0: epochs only).")
    keep_checkpoints: int = _runtime(3, "Recent checkpoints kept.")
    val_split: str | None = _runtime(
        None, "Split evaluated after each epoch to keep the best model."
    )
    best_metric: str = _runtime("top1_loc", "Picks the best model.", choices=BEST_METRICS)
    deterministic: bool = _runtime(False, "TensorFlow op determinism (bitwise reruns).")
    tensorboard: bool = _runtime(True, "Write TensorBoard summaries to <workdir>/tensorboard.")

    def __post_init__(self):
        if self.pretrained in ("", "none", "None"):
            self.pretrained = None  # `--pretrained=` or `--pretrained=none` turns a recipe's off
        self.image_size = parse_size(self.image_size, "image_size")
        if self.resize_size is not None:
            self.resize_size = parse_size(self.resize_size, "resize_size")
        self.positions = None if self.positions is None else tuple(self.positions)
        self.lr_decay_epochs = parse_epochs(self.lr_decay_epochs, "lr_decay_epochs")
        self.method_params = dict(self.method_params or {})

    @classmethod
    def from_settings(cls, **settings):
        """A config from flat settings: fields, plus the method's hyperparameters by field or
        flag name (e.g. drop_rate=0.5, adl_variant="both"), plus "adl_positions"."""
        settings = dict(settings)
        if "adl_positions" in settings:
            settings["positions"] = settings.pop("adl_positions")
        known = {f.name for f in dataclasses.fields(cls)}
        params = dict(settings.pop("method_params", None) or {})
        rest = {k: settings.pop(k) for k in list(settings) if k not in known}
        config = cls(**settings)
        if rest:
            method_cls = methods.get(config.method)
            by_flag = {
                methods.flag_name(method_cls.name, f): f.name
                for f in methods.params_fields(method_cls.Params)
            }
            fields = set(by_flag.values())
            for key, value in rest.items():
                name = by_flag.get(key, key)
                if name not in fields:
                    raise ValueError(_unknown_setting(key, config.method))
                params[name] = value
        config.method_params = params
        return config

    def validate(self):
        """Raises ValueError naming the flag (or TF_CONFIG) and the valid values; reads no
        data."""
        from wsol_tf import models

        models.spec(self.model)  # names the valid models
        for field in dataclasses.fields(self):
            choices = field.metadata.get("choices")
            value = getattr(self, field.name)
            if choices and value not in choices:
                raise ValueError(f"--{field.name}={value}: valid: {', '.join(choices)}.")
            _check_float(field.name, value)  # inf, nan, 1e39 (inf in float32): never valid
        flag_of = {}  # a method's parameter is named by its flag (prob: --cutmix_prob)
        if self.method in methods.names():
            method_cls = methods.get(self.method)
            flag_of = {f.name: methods.flag_name(method_cls.name, f)
                       for f in methods.params_fields(method_cls.Params)}  # fmt: skip
        for name, value in self.method_params.items():
            _check_float(flag_of.get(name, name), value)
        check_pretrained_file(self.model, self.pretrained)
        check_pattern_free(self.workdir, "--workdir")
        datasets.require_data_dir(self.dataset, self.data_dir)
        following = datasets.with_option("follow_outside_links")
        if self.follow_outside_links and self.dataset not in following:
            raise ValueError(
                f"--follow_outside_links: --dataset={self.dataset} reads no image paths from "
                f"annotation files (only {' and '.join(following)} do)."
            )
        method = self.make_method()  # validates the method, its params and positions
        if self.positions is not None and not method.uses_positions:
            raise ValueError(
                f"--positions: --method={self.method} inserts nothing at backbone positions."
            )
        if self.last_stride is not None:
            strides = models.spec(self.model).last_strides
            if not strides:
                offering = [n for n, s in models.BACKBONES.items() if s.last_strides]
                raise ValueError(
                    f"--last_stride={self.last_stride}: --model={self.model} has no such option "
                    f"(backbones with it: {', '.join(offering)})."
                )
            valid = ", ".join(map(str, strides))
            _check(self.last_stride in strides, "last_stride", self.last_stride, f"one of {valid}")
        _check(_finite(self.entropy_weight) and self.entropy_weight >= 0, "entropy_weight",
               self.entropy_weight, "a finite number >= 0")  # fmt: skip
        _check(_finite(self.label_smoothing) and 0 <= self.label_smoothing < 1,
               "label_smoothing", self.label_smoothing, "a number in [0, 1)")  # fmt: skip
        _check(self.epochs >= 1, "epochs", self.epochs, ">= 1")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        _check(_finite(self.lr) and self.lr > 0, "lr", self.lr, "a finite number > 0")
        _check(0.0 < self.lr_decay <= 1.0, "lr_decay", self.lr_decay, "in (0, 1]")
        # The step schedule decays at step e * steps_per_epoch: the end of epoch e. Epoch 0 or
        # less would decay from the first step on, and an epoch given twice decays twice.
        decay_epochs = ",".join(map(str, self.lr_decay_epochs))
        _check(all(e >= 1 for e in self.lr_decay_epochs), "lr_decay_epochs", decay_epochs,
               "epoch numbers >= 1 (the lr decays after each of those epochs)")  # fmt: skip
        _check(len(set(self.lr_decay_epochs)) == len(self.lr_decay_epochs), "lr_decay_epochs",
               decay_epochs, "distinct epochs (one given twice decays twice)")  # fmt: skip
        _check(0.0 <= self.momentum < 1.0, "momentum", self.momentum, "in [0, 1)")
        lr_group_factors(self.lr_groups)  # refuses what it cannot parse, naming the flag
        if self.freeze_through is not None:
            valid = models.spec(self.model).positions
            if self.freeze_through not in valid:
                raise ValueError(
                    f"--freeze_through={self.freeze_through}: not a position of "
                    f"--model={self.model}; valid: {', '.join(valid)}."
                )
        _check(_finite(self.weight_decay) and self.weight_decay >= 0, "weight_decay",
               self.weight_decay, "a finite number >= 0")  # fmt: skip
        # A backbone may need more (InceptionV3's stem: 64), refused here rather than when
        # the model is built, after the workdir is written.
        smallest = _smallest_image(self.model)
        expected = f">= {smallest} pixels" + (f" for --model={self.model}" if smallest > 16 else "")
        _check(min(self.image_size) >= smallest, "image_size", self.image_size, expected)
        if self.resize_size is not None:
            ok = all(r >= i for r, i in zip(self.resize_size, self.image_size, strict=True))
            _check(ok, "resize_size", self.resize_size, f">= image_size {self.image_size}")
        _check(0 <= self.seed <= MAX_SEED, "seed", self.seed, f"in [0, {MAX_SEED}]")
        _check(self.log_every >= 1, "log_every", self.log_every, ">= 1")
        _check(self.val_per_class >= 0, "val_per_class", self.val_per_class, ">= 0")
        _check(self.cpu_replicas >= 0, "cpu_replicas", self.cpu_replicas, ">= 0")
        if self.steps_per_epoch is not None:
            _check(self.steps_per_epoch >= 1, "steps_per_epoch", self.steps_per_epoch, ">= 1")
        _check(self.steps_per_loop >= 1, "steps_per_loop", self.steps_per_loop, ">= 1")
        _check(_finite(self.warmup_epochs) and self.warmup_epochs >= 0, "warmup_epochs",
               self.warmup_epochs, "a finite number >= 0")  # fmt: skip
        _check(self.checkpoint_every_steps >= 0, "checkpoint_every_steps",
               self.checkpoint_every_steps, ">= 0")  # fmt: skip
        _check(self.keep_checkpoints >= 1, "keep_checkpoints", self.keep_checkpoints, ">= 1")
        if self.batch_size % max(self.cpu_replicas, 1):
            raise ValueError(
                f"--batch_size={self.batch_size} must be divisible by "
                f"--cpu_replicas={self.cpu_replicas}."
            )
        # The TF_CONFIG the run reads (the multi-worker strategy; which process writes the
        # run's files): named now, before TensorFlow is imported and anything is written.
        check_cluster_config(self.strategy)
        return self

    def make_method(self):
        """The run's `wsol_tf.methods.Method` (validated params and positions)."""
        from wsol_tf import models

        method = methods.create(
            self.method,
            self.method_params,
            backbone=models.spec(self.model),
            positions=self.positions,
            seed=self.seed,
        )
        valid = models.spec(self.model).positions
        unknown = [p for p in method.positions if p not in valid]
        if unknown:
            raise ValueError(
                f"--positions: unknown position {unknown[0]!r} for --model={self.model}; "
                f"valid positions: {', '.join(valid)}."
            )
        twice = [p for i, p in enumerate(method.positions) if p in method.positions[:i]]
        if twice:
            raise ValueError(
                f"--positions={','.join(method.positions)}: {twice[0]!r} is given twice "
                "(one layer per position)."
            )
        return method

    @property
    def eval_resize_size(self):
        """Resize before the evaluation center crop: image_size itself means no crop."""
        return self.image_size if self.eval_resize == "resize" else self.resize_size

    def split_options(self):
        """Options of `wsol_tf.data.datasets.load_split` for this run."""
        options = {"val_per_class": self.val_per_class} if self.val_per_class else {}
        if self.follow_outside_links:
            options["follow_outside_links"] = True
        return options

    @property
    def l2_in_loss(self):
        """Weight decay as Tensorpack's L2 loss term (else decoupled, in the optimizer)."""
        return self.weight_decay_mode == "l2" and self.optimizer != "adamw"

    @property
    def resolved_positions(self):
        return self.make_method().positions

    @classmethod
    def fields_of(cls, group):
        """Names of the fields of one of `GROUPS`, in declaration order."""
        if group not in GROUPS:
            raise ValueError(f"unknown config group {group!r}; groups: {', '.join(GROUPS)}")
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata["group"] == group)

    def group(self, group):
        """{field: value} of one group."""
        return {name: getattr(self, name) for name in self.fields_of(group)}

    def nested(self):
        """{group: {field: value}}, as Model Garden nests a config."""
        return {group: self.group(group) for group in GROUPS}

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def save(self, workdir=None):
        path = os.path.join(workdir or self.workdir, "config.json")
        return write_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, workdir):
        """The config.json of a training workdir (every command reads it through here).

        Raises:
            FileNotFoundError when there is none; ValueError naming the file when it is not
            a readable config (empty, not JSON, not an object, a value of the wrong kind).
        """
        path = os.path.join(workdir, "config.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: is {workdir!r} a training workdir?")
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)
        except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
            what = "empty file" if os.path.getsize(path) == 0 else f"not valid JSON: {error}"
            raise ValueError(f"{path}: not a readable training config ({what}).") from None
        if not isinstance(values, dict):
            raise ValueError(
                f"{path}: not a readable training config (expected a JSON object, found "
                f"{type(values).__name__})."
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if values and all(k in GROUPS and isinstance(v, dict) for k, v in values.items()):
            values = {k: v for group in values.values() for k, v in group.items()}
        # Configs written before the method seam kept ADL's fields at the top level. A field
        # missing (written before it existed) takes its default; one no longer known is
        # ignored.
        legacy = {k: values.pop(k) for k in ("drop_rate", "gamma", "adl_variant") if k in values}
        values = {k: v for k, v in values.items() if k in fields}
        try:
            for key, value in values.items():
                _check_kind(key, fields[key].type, value, fields[key].metadata)
            config = cls(**values)
            if legacy and config.method == "adl" and not config.method_params:
                config.method_params = {"variant" if k == "adl_variant" else k: v
                                        for k, v in legacy.items()}  # fmt: skip
            _check_loaded(config)
        except (TypeError, ValueError) as error:
            reason = str(error).rstrip(".")
            raise ValueError(f"{path}: not a readable training config ({reason}).") from None
        return config


def lr_group_factors(rule):
    """(pretrained layers' factor, new layers' factor) of an `--lr_groups` rule.

    Example: lr_group_factors("new_10") == (1.0, 10.0); "pretrained_0.1" -> (0.1, 1.0).
    """
    if rule == "none":
        return 1.0, 1.0
    group, _, factor = str(rule).partition("_")
    try:
        value = float(factor)
    except ValueError:
        value = float("nan")
    if group not in ("pretrained", "new") or not (_finite(value) and value > 0):
        raise ValueError(
            f"--lr_groups={rule}: valid: none, pretrained_<f> or new_<f> with f a finite "
            "number > 0 (e.g. pretrained_0.1, new_10)."
        )
    return (value, 1.0) if group == "pretrained" else (1.0, value)


# How a value of each field type is written in config.json (what a wrong one is told).
_KINDS = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a string",
    dict: "an object",
    tuple: "a list",
}


def _check_kind(name, kind, value, metadata):
    """ValueError naming field `name` when `value`, read from config.json, is not of its type
    `kind`. Sizes and epoch lists are parsed (and named when wrong) by the config itself."""
    optional = typing.get_origin(kind) in (typing.Union, types.UnionType)
    if optional:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if kind not in _KINDS or (value is None and optional):
        return
    if value is None:
        raise ValueError(f'"{name}" is null, not {_KINDS[kind]}')
    if metadata.get("kind") == "size":
        ok = isinstance(value, int | str | list) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is tuple:
        ok = isinstance(value, list | tuple) and not any(
            isinstance(v, bool | list | dict) or v is None for v in value
        )
    else:
        ok = isinstance(value, kind)
    if not ok:
        shown = json.dumps(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        expected = _KINDS[kind] + (" or null" if optional else "")
        raise ValueError(f'"{name}" is {shown}, not {expected}')


def _check_loaded(config):
    """What `TrainConfig.validate` would refuse that no run could have been trained with,
    checked on a config read back (validate itself also checks files and the environment):
    the method parameters' kinds, an input smaller than the model takes."""
    if config.method in methods.names():
        params = methods.get(config.method).Params
        fields = {f.name: f for f in methods.params_fields(params)}
        try:
            hints = typing.get_type_hints(params)
        except Exception:  # noqa: BLE001 - a user's annotations: keep the fields' own types
            hints = {}
        for key, value in config.method_params.items():
            if key not in fields:
                valid = ", ".join(fields) or "none"
                raise ValueError(
                    f'"method_params": method {config.method} has no parameter "{key}" '
                    f"(its parameters: {valid})"
                )
            kind = hints.get(key, fields[key].type)
            _check_kind(f"method_params.{key}", kind, value, fields[key].metadata)
    smallest = _smallest_image(config.model)
    if min(config.image_size) < smallest:
        raise ValueError(
            f'"image_size": {list(config.image_size)} is smaller than --model={config.model} '
            f"takes ({smallest} pixels)"
        )


def _smallest_image(model):
    """The smallest image side `validate` lets a run train `model` with."""
    from wsol_tf import models

    try:
        spec = models.spec(model)
    except ValueError:
        return 16  # an unknown model is named when it is built
    return max(16, spec.min_image_size)


def _unknown_setting(key, method):
    owners = []
    for name in methods.names():
        fields = methods.params_fields(methods.get(name).Params)
        if key in {methods.flag_name(name, f) for f in fields} | {f.name for f in fields}:
            owners.append(name)
    if owners:
        return f"--{key} applies to --method={' or '.join(owners)}, not --method={method}."
    return f"Unknown setting {key!r} (not a TrainConfig field nor a parameter of {method})."


def parse_size(size, flag=None):
    """(h, w) from an int, a pair, or the flags' strings "96", "96,128" or "96x128";
    ValueError naming `flag` (e.g. "image_size") and what it takes."""
    text = size if isinstance(size, str) else ",".join(map(str, _as_list(size)))
    where = f"--{flag}={text}" if flag else f"size {text!r}"
    values = size.replace("x", ",").split(",") if isinstance(size, str) else _as_list(size)
    values = [v for v in values if not (isinstance(v, str) and not v.strip())]
    try:
        values = [_whole(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: takes H,W or one size N (whole numbers).") from None
    if len(values) not in (1, 2):
        raise ValueError(f"{where}: takes H,W or one size N, not {len(values)} values.")
    return as_hw(values[0] if len(values) == 1 else values)


def parse_epochs(epochs, flag):
    """A tuple of whole epoch numbers from a list of ints or the flag's strings ("30,60");
    ValueError naming `flag` otherwise. Their range is checked by `TrainConfig.validate`."""
    if epochs is None:
        return ()
    values = epochs.split(",") if isinstance(epochs, str) else _as_list(epochs)
    values = [v for v in values if not (isinstance(v, str) and not v.strip())]
    try:
        return tuple(_whole(v) for v in values)
    except (TypeError, ValueError):
        text = epochs if isinstance(epochs, str) else ",".join(map(str, values))
        raise ValueError(
            f"--{flag}={text}: takes whole epoch numbers separated by commas (e.g. 30,60)."
        ) from None


def _as_list(value):
    return [value] if isinstance(value, int | float | str) else list(value)


def _whole(value):
    """An int from an int, an integral float or a string of digits; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    return int(value)


def check_pretrained_file(model, pretrained):
    """A --pretrained weights file must exist and suit the backbone, checked at the start
    (without TensorFlow) rather than when the model is built, after the workdir is written.
    For 'imagenet' this checks that the backbone has ImageNet weights and, for a pip-packaged
    file, that the package is installed; a keras.applications file that may need a download
    is fetched by `training.train` before the workdir is written
    (`wsol_tf.runs.model.fetch_imagenet_weights`)."""
    from wsol_tf import models
    from wsol_tf.models import pretrained as weights

    kind, _ = weights.parse_pretrained(pretrained)  # FileNotFoundError naming flag and path
    if kind is not None:
        weights.check_pretrained(models.spec(model), pretrained)


def _finite(value):
    return isinstance(value, int | float) and math.isfinite(value)


def _check_float(flag, value):
    """A float setting must be finite, also in float32 (1e39 would train with inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"--{flag}={value} is invalid: must be a finite number.")
    if isinstance(value, float) and abs(value) > FLOAT32_MAX:
        raise ValueError(
            f"--{flag}={value} is invalid: must be at most {FLOAT32_MAX:.3g} in magnitude "
            "(float32's largest; it would be inf)."
        )


# The one flag check, shared with the methods' params: ValueError naming the flag.
_check = methods.check
