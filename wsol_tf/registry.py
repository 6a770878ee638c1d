"""One registry pattern for every kind of component: methods, backbones, score-map
extractors, datasets and experiments.

A component registers itself where it is defined (a decorator, or `add` for a record), and a
package of such modules is scanned once (`import_submodules`), so adding one is adding its
module. Lookups of an unknown name raise a ValueError that lists the valid names; the message
names the flag the name came from, so commands can show it as their one-line error.

Library code, no TensorFlow: registries are read while flags are checked.

Example:
    BACKBONES = Registry("backbone", flag="--model")

    @BACKBONES.register("tinyvgg")
    class TinyVGG: ...

    BACKBONES.get("tinyvgg")  # the class
    BACKBONES.get("vgg")      # ValueError: Unknown --model='vgg'; valid: tinyvgg.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator


class Registry:
    """Named entries of one kind, in registration order (or `order`'s).

    Args:
        kind: what an entry is ("method", "backbone"), for messages.
        flag: the flag whose value names an entry ("--method"), for messages; defaults to
            `kind`.
        order: optional key function of a name that `names()` sorts by.
    """

    def __init__(self, kind: str, flag: str | None = None, order: Callable | None = None):
        self.kind = kind
        self.flag = flag or kind
        self._order = order
        self._entries: dict[str, object] = {}

    def add(self, name: str, entry, replace: bool = False):
        """Registers `entry` as `name` (ValueError when another entry has the name, unless
        `replace`); returns `entry`."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name {name!r}: must be a non-empty string.")
        other = self._entries.get(name)
        if other is not None and other is not entry and not replace:
            raise ValueError(f"{self.kind} name {name!r} is already registered ({other!r}).")
        self._entries[name] = entry
        return entry

    def register(self, name: str | None = None, replace: bool = False):
        """Decorator form of `add`; the name defaults to the entry's `name` attribute, else
        its `__name__`."""

        def decorate(entry):
            key = name or getattr(entry, "name", None) or entry.__name__
            return self.add(key, entry, replace=replace)

        return decorate

    def remove(self, name: str):
        self._entries.pop(name, None)

    def get(self, name: str):
        """The entry registered as `name`; ValueError naming the flag and the valid names."""
        if name not in self._entries:
            raise ValueError(
                f"Unknown {self.flag}={name!r}; valid {self.kind}s: {', '.join(self.names())}."
            )
        return self._entries[name]

    def names(self) -> tuple[str, ...]:
        names = tuple(self._entries)
        return tuple(sorted(names, key=self._order)) if self._order else names

    def items(self):
        return tuple((name, self._entries[name]) for name in self.names())

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"


def import_submodules(package: str, skip=()) -> list[str]:
    """Imports every module of `package` (not those named in `skip` or starting with '_'),
    so that each registers what it defines; returns their full names."""
    root = importlib.import_module(package)
    imported = []
    for info in pkgutil.iter_modules(root.__path__):
        if info.name in skip or info.name.startswith("_"):
            continue
        imported.append(importlib.import_module(f"{package}.{info.name}").__name__)
    return imported
