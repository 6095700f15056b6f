"""One way to register: a name -> object registry per kind, filled by decorators and by entry-point plugins.

Tasks, learners, regimes, mitigations and metrics register the same way, next to their definitions::

    @MITIGATIONS.register("dedup")
    class Dedup(Mitigation): ...

Outside packages add their own through entry points, as inspect_ai does: a package declares, in its
``pyproject.toml``::

    [project.entry-points."collapse_bench.mitigations"]
    length_cap = "my_package.length_cap"

and loading that module registers it (or, if the entry point names an object that is not registered yet, the
object is registered under the entry point's name). Plugins load once, the first time a registry is read.

Unknown names fail with the closest registered names, so a typo in a suite file reads as
"unknown mitigation 'dedupe' (did you mean 'dedup'?)".
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")

ENTRY_POINT_PREFIX = "collapse_bench."


class UnknownNameError(KeyError):
    """A name that is not registered; the message suggests near matches."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain message
        return str(self.args[0])


class PluginError(RuntimeError):
    """An entry-point plugin that cannot be loaded."""


class Registry(Generic[T]):
    """Maps names to objects of one kind ("task", "metric", ...).

    ``builtins`` are the package's own modules that register items of this kind; they and the entry-point group
    ``collapse_bench.<group>`` are imported the first time the registry is read, so importing a registry is cheap
    and nothing registers twice.
    """

    def __init__(self, kind: str, group: str, builtins: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.group = ENTRY_POINT_PREFIX + group
        self._builtins = builtins
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@MITIGATIONS.register("dedup")``."""

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = obj

    def load(self) -> None:
        """Import the built-in modules and every plugin of this kind's entry-point group (once)."""
        if self._loaded:
            return
        self._loaded = True  # set first: a plugin module that reads the registry must not recurse
        for module in self._builtins:
            importlib.import_module(module)
        for point in entry_points(group=self.group):
            try:
                obj = point.load()
            except Exception as error:  # a broken plugin must name itself, not crash deep in a run
                raise PluginError(
                    f"{self.group} plugin {point.name!r} ({point.value}) failed to load: {error}"
                ) from None
            if point.name not in self._items and not inspect.ismodule(obj):
                self.add(point.name, obj)

    def get(self, name: str) -> T:
        self.load()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        self.load()
        near = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
        return f"unknown {self.kind} {name!r}{hint}; known: {', '.join(sorted(self._items))}"

    def names(self) -> list[str]:
        self.load()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        self.load()
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
