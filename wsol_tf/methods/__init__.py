"""WSOL methods on one seam (`base.Method`), registered by name.

Every module of this package other than the seam's own (`base`, `regularizers`) defines one
method with `@register`; they are imported here, so a new method is one new module. Method
modules import TensorFlow only inside their hooks (their Keras layers live in
`wsol_tf.layers`), so listing methods and validating flags stays fast.

Methods outside the package (a researcher's own, a test's toy) are loaded from the modules
or `.py` files listed in the environment variable `WSOL_TF_METHOD_MODULES` (comma
separated), so `python -m wsol_tf.train --method=<theirs>` works without editing wsol_tf.
"""

import importlib
import importlib.util
import os
import pkgutil

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

_REGISTRY: dict[str, type[Method]] = {}
_SEAM_MODULES = {"base", "regularizers"}
EXTRA_MODULES_VARIABLE = "WSOL_TF_METHOD_MODULES"


def register(cls):
    """Class decorator: adds a `Method` subclass to the registry under `cls.name`."""
    if not cls.name or cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"method name {cls.name!r} is empty or already registered")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all():
    for info in pkgutil.iter_modules(__path__):
        if info.name not in _SEAM_MODULES and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    for entry in filter(None, os.environ.get(EXTRA_MODULES_VARIABLE, "").split(",")):
        load_module(entry.strip())


def load_module(entry):
    """Imports a module by name or a `.py` file by path (its methods register themselves)."""
    if not entry.endswith(".py"):
        return importlib.import_module(entry)
    if not os.path.isfile(entry):
        raise FileNotFoundError(f"{EXTRA_MODULES_VARIABLE}: no file {entry}")
    name = "wsol_tf_user_method_" + os.path.splitext(os.path.basename(entry))[0]
    spec = importlib.util.spec_from_file_location(name, entry)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def names() -> tuple[str, ...]:
    """Registered method names, "cam" first, then alphabetical."""
    return tuple(sorted(_REGISTRY, key=lambda n: (n != "cam", n)))


def get(name) -> type[Method]:
    """The method class registered as `name`; ValueError listing the valid names."""
    if name not in _REGISTRY:
        raise ValueError(f"Unknown method={name!r}; valid methods: {', '.join(names())}.")
    return _REGISTRY[name]


def create(name, params=None, *, backbone=None, positions=None, seed=None) -> Method:
    """A method instance; `params` is a Params instance or a dict of its fields."""
    cls = get(name)
    if isinstance(params, dict) or params is None:
        params = make_params(cls, params or {})
    return cls(params, backbone=backbone, positions=positions, seed=seed)


_load_all()

__all__ = [
    "Method",
    "NoParams",
    "check",
    "create",
    "cross_entropy",
    "flag_name",
    "get",
    "names",
    "param",
    "params_fields",
    "params_from_settings",
    "params_to_dict",
    "register",
]
