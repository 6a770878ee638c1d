"""WSOL methods on one seam (`base.Method`), registered by name.

Every module of this package other than the seam's own (`base`, `regularizers`) defines one
method with `@register`; they are imported here, so a new method is one new module. Method
modules import TensorFlow only inside their hooks (their Keras layers live in
`wsol_tf.layers`), so listing methods and validating flags stays fast.

Methods outside the package (a researcher's own, a test's toy) are loaded from the modules
or `.py` files listed in the environment variable `WSOL_TF_METHOD_MODULES` (comma
separated), so `python -m wsol_tf.train --method=<theirs>` works without editing wsol_tf.
Such a module that cannot be loaded (no such file, a syntax error, an exception at import, a
method `register` refuses) is not raised at import, which would be a traceback before a
command can answer: it is kept as a `MethodModuleError` naming the variable, the file and
the line, which `wsol_tf.cli.run` reports in one line (`load_errors`), and which `get` raises
for a method name it does not know.
"""

import dataclasses
import importlib
import importlib.util
import os
import re
import sys
import traceback
import types
import typing

from wsol_tf.errors import error_text, report_at_start
from wsol_tf.methods.base import (
    Method,
    NoParams,
    check,
    cross_entropy,
    flag_name,
    make_params,
    param,
    params_fields,
    params_from_settings,
    params_to_dict,
)
from wsol_tf.registry import Registry, import_submodules

# The project's one registry pattern; "cam" listed first. Its flag is "method": messages read
# "Unknown method='x'; valid methods: ...".
_REGISTRY = Registry("method", flag="method", order=lambda name: (name != "cam", name))
_SEAM_MODULES = {"base", "regularizers"}
EXTRA_MODULES_VARIABLE = "WSOL_TF_METHOD_MODULES"
# The types a method parameter's flag can take (`wsol_tf.train_flags`), each also | None.
FLAG_TYPES = (bool, int, float, str, tuple)


class MethodModuleError(ValueError):
    """A module of WSOL_TF_METHOD_MODULES could not be loaded; the message names the variable,
    the file (and line) and why."""


_LOAD_ERRORS: list[MethodModuleError] = []


class MethodDefinitionError(ValueError):
    """`register` refused a method class: the message says which rule it breaks."""


def register(cls):
    """Class decorator: adds a `Method` subclass to the registry under `cls.name`, after
    checking what the commands rely on (`MethodDefinitionError` naming the rule broken)."""
    _check_method(cls)
    return _REGISTRY.add(cls.name, cls)


def _check_method(cls):
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise MethodDefinitionError(f"@register: {cls!r} is not a subclass of Method.")
    name = cls.name
    if not (isinstance(name, str) and name.isidentifier()):
        raise MethodDefinitionError(
            f"method class {cls.__name__}: name {name!r} is not a method name (a non-empty "
            "identifier such as 'random_erase'; it names --method and the flags)."
        )
    other = _REGISTRY.get(name) if name in _REGISTRY else None
    if other is not None and other is not cls:
        raise MethodDefinitionError(
            f"method name {name!r} is already registered by {_origin(other)}."
        )
    _check_params(cls)


def _origin(cls):
    """Where a method class was defined: its module's file, else its module's name."""
    module = sys.modules.get(cls.__module__)
    return getattr(module, "__file__", None) or cls.__module__


def _check_params(cls):
    """The method's Params: a dataclass with a `validate` method whose fields have defaults
    and flag types, and flags no other method takes."""
    params, name = cls.Params, cls.name
    if not (isinstance(params, type) and dataclasses.is_dataclass(params)):
        raise MethodDefinitionError(
            f"method {name!r}: Params must be a dataclass (NoParams when there are none), not "
            f"{params!r}."
        )
    if not callable(getattr(params, "validate", None)):
        raise MethodDefinitionError(
            f"method {name!r}: Params {params.__name__} has no validate(self, method_name)."
        )
    taken = {
        flag_name(other, f): other
        for other, other_cls in _REGISTRY.items()
        if other != name
        for f in params_fields(other_cls.Params)
    }
    for field in dataclasses.fields(params):
        where = f"method {name!r}: parameter {field.name!r}"
        if field.default is dataclasses.MISSING:
            raise MethodDefinitionError(
                f"{where} has no default (declare it with param(default, help))."
            )
        if not _has_flag_type(field):
            kinds = ", ".join(t.__name__ for t in FLAG_TYPES)
            hint = " (a string: drop `from __future__ import annotations`)"
            raise MethodDefinitionError(
                f"{where} has type {field.type!r}{hint if isinstance(field.type, str) else ''}; "
                f"a parameter's flag takes {kinds} (or one of them | None), or give it choices."
            )
        flag = flag_name(name, field)
        if flag in taken:
            raise MethodDefinitionError(
                f"{where}: its flag --{flag} is taken by method {taken[flag]!r}."
            )


def _has_flag_type(field):
    if field.metadata.get("choices") or field.metadata.get("kind") == "size":
        return True  # string flags, parsed by the method's validate
    kind = field.type
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        kind = args[0] if len(args) == 1 else None
    return kind in FLAG_TYPES


def _load_all():
    import_submodules(__name__, skip=_SEAM_MODULES)
    for error in load_extra_modules(extra_module_entries()):
        _LOAD_ERRORS.append(error)
        report_at_start(error)  # one line from `wsol_tf.cli.run`


def load_extra_modules(entries) -> list[MethodModuleError]:
    """Loads each module or `.py` file of `entries`; returns a MethodModuleError for each one
    that cannot be loaded (whose methods, if it registered any before failing, are removed)."""
    errors = []
    for entry in entries:
        registered = set(_REGISTRY)
        try:
            load_module(entry)
        except Exception as error:  # noqa: BLE001 - any failure of a user's module is named
            for name in set(_REGISTRY) - registered:  # half a module: none of its methods
                _REGISTRY.remove(name)
            errors.append(_module_error(entry, error))
    return errors


def extra_module_entries(environ=os.environ):
    """The entries of WSOL_TF_METHOD_MODULES (module names or `.py` paths), each once."""
    entries = [e.strip() for e in environ.get(EXTRA_MODULES_VARIABLE, "").split(",")]
    return list(dict.fromkeys(e for e in entries if e))


def load_module(entry):
    """Imports a module by name or a `.py` file by path (its methods register themselves)."""
    if not entry.endswith(".py"):
        return importlib.import_module(entry)
    if not os.path.isfile(entry):
        raise FileNotFoundError(f"{entry}: no such file")
    name = "wsol_tf_user_method_" + os.path.splitext(os.path.basename(entry))[0]
    spec = importlib.util.spec_from_file_location(name, entry)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: its classes name their file
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _module_error(entry, error):
    """A one-line MethodModuleError: the variable, the file and line, and why."""
    prefix = f"{EXTRA_MODULES_VARIABLE}: "
    if isinstance(error, SyntaxError):
        where = f"{error.filename or entry}:{error.lineno}" if error.lineno else entry
        return MethodModuleError(f"{prefix}{where}: syntax error ({error.msg}).")
    if isinstance(error, FileNotFoundError) and entry.endswith(".py") and not os.path.isfile(entry):
        return MethodModuleError(f"{prefix}{entry}: no such file.")
    if isinstance(error, ModuleNotFoundError) and error.name == entry:
        return MethodModuleError(
            f"{prefix}{entry}: no such module (give an importable module name or a .py file)."
        )
    where = _raising_line(entry, error)
    if isinstance(error, MethodDefinitionError):
        return MethodModuleError(f"{prefix}{where}: {error_text(error)}")
    return MethodModuleError(
        f"{prefix}{where}: importing it raised {type(error).__name__}: {error_text(error)}"
    )


def _raising_line(entry, error):
    """'<file>:<line>' of the module's own line that raised `error` (else the entry)."""
    source = os.path.abspath(entry) if entry.endswith(".py") else _module_file(entry)
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(error.__traceback__)
        if source and os.path.abspath(frame.filename) == source
    ]
    return f"{entry if entry.endswith('.py') else source or entry}:{lines[-1]}" if lines else entry


def _module_file(name):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    return os.path.abspath(origin) if origin and os.path.isfile(origin) else None


def flag_taken(error):
    """`train`'s flags could not be defined (`error`, absl's DuplicateFlagError): a
    MethodModuleError naming the WSOL_TF_METHOD_MODULES method whose parameter's flag another
    flag takes, or None when no such method owns it (then it is wsol_tf's own bug)."""
    match = re.search(r"flag '([^']+)' is defined twice", str(error))
    for name, cls in _REGISTRY.items():
        for field in params_fields(cls.Params):
            if match and flag_name(name, field) == match.group(1) and _is_extra(cls):
                return MethodModuleError(
                    f"{EXTRA_MODULES_VARIABLE}: {_origin(cls)}: method {name!r}: parameter "
                    f"{field.name!r}: its flag --{match.group(1)} is one of train's own flags."
                )
    return None


def _is_extra(cls):
    return not cls.__module__.startswith(f"{__name__}.")


def load_errors() -> tuple[MethodModuleError, ...]:
    """The modules of WSOL_TF_METHOD_MODULES that could not be loaded, as one-line errors."""
    return tuple(_LOAD_ERRORS)


def names() -> tuple[str, ...]:
    """Registered method names, "cam" first, then alphabetical."""
    return _REGISTRY.names()


def get(name) -> type[Method]:
    """The method class registered as `name`; ValueError listing the valid names (or, when a
    module of WSOL_TF_METHOD_MODULES could not be loaded, which may have held it, why)."""
    if name not in _REGISTRY and _LOAD_ERRORS:
        raise _LOAD_ERRORS[0]
    return _REGISTRY.get(name)  # ValueError: "Unknown method='x'; valid methods: ..."


def create(name, params=None, *, backbone=None, positions=None, seed=None) -> Method:
    """A method instance; `params` is a Params instance or a dict of its fields."""
    cls = get(name)
    if isinstance(params, dict) or params is None:
        params = make_params(cls, params or {})
    return cls(params, backbone=backbone, positions=positions, seed=seed)


_load_all()

__all__ = [
    "EXTRA_MODULES_VARIABLE",
    "Method",
    "MethodDefinitionError",
    "MethodModuleError",
    "NoParams",
    "check",
    "create",
    "cross_entropy",
    "flag_name",
    "flag_taken",
    "get",
    "load_errors",
    "load_extra_modules",
    "names",
    "param",
    "params_fields",
    "params_from_settings",
    "params_to_dict",
    "register",
]
