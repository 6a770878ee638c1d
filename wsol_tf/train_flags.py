"""`python -m wsol_tf.train`'s flags, generated from `TrainConfig` and the methods' Params.

Beside the commands, not in `training`: `--experiment` reads `wsol_tf.experiments`, whose
configs build on `training` (a module of `training` importing them would be a cycle).

A new config field or method hyperparameter is written once, in its dataclass; its flag,
default, help and choices come from there. Only the command-line entry points call
`define_flags` and read flags; library code takes a `TrainConfig`.
"""

import dataclasses
import types
import typing

from absl import flags

from wsol_tf import experiments, methods
from wsol_tf.runs.config import TrainConfig

# Flags that are not TrainConfig fields nor method parameters.
ALIASES = {"adl_positions": "positions"}


def _base_type(field):
    kind = field.type
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


def _define(name, field, default, help_text, flag_values):
    """One absl flag for a dataclass field, by its type, default and metadata."""
    choices = field.metadata.get("choices")
    kind = _base_type(field)
    if field.metadata.get("kind") == "size":
        value = None if default is None else ",".join(str(s) for s in default)
        flags.DEFINE_string(name, value, help_text, flag_values=flag_values)
    elif choices:
        # A string checked by the config's one validation (exit 2 and a message naming the
        # valid values), not absl's enum, which refuses with a traceback-like parse error.
        help_text = f"{help_text} One of: {', '.join(choices)}."
        flags.DEFINE_string(name, default, help_text, flag_values=flag_values)
    elif kind is bool:
        flags.DEFINE_boolean(name, default, help_text, flag_values=flag_values)
    elif kind is int:
        flags.DEFINE_integer(name, default, help_text, flag_values=flag_values)
    elif kind is float:
        flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
    elif kind is tuple:
        value = None if default is None else [str(v) for v in default]
        flags.DEFINE_list(name, value, help_text, flag_values=flag_values)
    elif kind is str:
        flags.DEFINE_string(name, default, help_text, flag_values=flag_values)
    else:
        raise TypeError(f"no flag type for field {field.name} of type {field.type}")


def config_fields():
    """TrainConfig fields that have a flag."""
    return [f for f in dataclasses.fields(TrainConfig) if f.metadata.get("flag", True)]


def method_param_flags():
    """{flag name: (method name, Params field)} over every registered method."""
    table = {}
    for name in methods.names():
        for field in methods.params_fields(methods.get(name).Params):
            flag = methods.flag_name(name, field)
            if flag in table:
                raise ValueError(f"flag --{flag} is claimed by two methods")
            table[flag] = (name, field)
    return table


def define_flags(flag_values=flags.FLAGS):
    """Defines --experiment, --resume, --fork_from, one flag per config field and per method
    parameter."""
    flags.DEFINE_string(
        "experiment", None,
        "Settings to start from: a wsol_tf.experiments module (e.g. table3_resnet50se_adl), "
        "'auto' (the recipe of --model/--method/--dataset when there is one) or 'none'. Flags "
        "given explicitly override its values.",
        flag_values=flag_values,
    )  # fmt: skip
    flags.DEFINE_boolean(
        "resume", True,
        "Continue the workdir's run from its latest checkpoint (a workdir holding another run "
        "is refused). --noresume starts over: the earlier run is moved aside to "
        "<workdir>.replaced-<time>.",
        flag_values=flag_values,
    )  # fmt: skip
    flags.DEFINE_string(
        "fork_from", None,
        "Another run's workdir: this run (in a new --workdir) starts from its latest "
        "checkpoint (weights, optimizer, step) with the settings given here.",
        flag_values=flag_values,
    )  # fmt: skip
    defaults = TrainConfig()
    for field in config_fields():
        default = getattr(defaults, field.name)
        text = field.metadata["help"]
        if field.name == "workdir":
            default = None  # workdirs/<model>_<dataset>_<method> unless given
            text += " Default: workdirs/<model>_<dataset>_<method>."
        _define(field.name, field, default, text, flag_values)
    for alias, target in ALIASES.items():
        flags.DEFINE_alias(alias, target, flag_values=flag_values)
    for flag, (method, field) in method_param_flags().items():
        default = field.default
        help_text = f"[--method={method}] {field.metadata.get('help', '')}"
        _define(flag, field, default, help_text, flag_values)


def config_from_flags(flag_values=flags.FLAGS):
    """TrainConfig from --experiment's settings, overridden by every flag given explicitly.

    Without an experiment every config flag counts (default or not). A method parameter's
    flag counts when typed; typing one of another method's parameters is refused.
    """
    fv = flag_values
    base = experiments.lookup(fv["experiment"].value, fv["model"].value, fv["method"].value,
                              fv["dataset"].value)  # fmt: skip
    settings = dict(base or {})
    for field in config_fields():
        if field.name == "workdir":
            continue
        if base is None or fv[field.name].present:
            # Parsed by TrainConfig (e.g. --lr_decay_epochs's numbers), naming the flag.
            settings[field.name] = fv[field.name].value
    if fv["positions"].present or fv["adl_positions"].present:
        settings["positions"] = fv["positions"].value
    method = settings.get("method", fv["method"].value)
    for flag, (owner, _) in method_param_flags().items():
        if not fv[flag].present:
            continue
        if owner != method:
            raise ValueError(f"--{flag} applies to --method={owner}, not --method={method}.")
        settings[flag] = fv[flag].value
    model, dataset = settings.get("model", fv["model"].value), settings.get("dataset")
    settings["workdir"] = fv["workdir"].value or f"workdirs/{model}_{dataset}_{method}"
    return TrainConfig.from_settings(**settings)
