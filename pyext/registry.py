"""Registries by name (model families, their training steps and evaluations, discriminators,
adversarial objectives, class conditionings, comparators): each is read through one torch-free
table of facts (:mod:`pyext.config`) that names, per entry, the module holding its implementation.

A piece registers its implementation with the registry's decorator when its module is imported;
the registry imports an entry's module the first time its name is looked up, so a name is found
wherever its table entry says its module is (a package of this project, or any importable module).
Every registered name must have a table entry, and every entry a registered implementation once its
module is imported: a registry and its table cannot drift apart.

Example:
    >>> table = {"twice": "builtins"}  # entry -> its module (here one that registers nothing)
    >>> doubled = Registry("operation", table, lambda module: module)
    >>> _ = doubled.register("twice")(lambda x: 2 * x)
    >>> doubled["twice"](21), list(doubled)
    (42, ['twice'])
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Mapping[str, T], Generic[T]):
    """Implementations by name, one for each entry of ``table``.

    Args:
        what: what an entry is, for messages ("adversarial objective").
        table: the names and their facts (a dict of :mod:`pyext.config`, read live: an entry added
            later is found too).
        module_of: the module that registers an entry's implementation, from its facts.
    """

    def __init__(self, what: str, table: Mapping[str, Any], module_of: Callable[[Any], str]):
        self.what, self.table, self.module_of = what, table, module_of
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator putting its class (or function) into the registry under ``name``.

        Raises:
            ValueError: ``name`` has no table entry, or is registered twice.
        """
        def add(implementation: T) -> T:
            if name not in self.table:
                raise ValueError(f"{self.what} {name!r} is registered but its table lists no such entry "
                                 f"(known: {', '.join(self.table)})")
            if name in self._entries:
                raise ValueError(f"{self.what} {name!r} registered twice")
            self._entries[name] = implementation
            return implementation
        return add

    def __getitem__(self, name: str) -> T:
        """The implementation of ``name``, importing its module the first time.

        Raises:
            KeyError: ``name`` is not in the table.
            LookupError: its module registers no such implementation.
        """
        if name not in self._entries:
            if name not in self.table:
                raise KeyError(f"unknown {self.what} {name!r} (known: {', '.join(self.table)})")
            module = self.module_of(self.table[name])
            importlib.import_module(module)
            if name not in self._entries:
                raise LookupError(f"{self.what} {name!r}: its module {module} registers no such {self.what}")
        return self._entries[name]

    def load(self) -> Registry[T]:
        """Every entry's implementation, imported; returns the registry.

        Raises:
            LookupError: an entry's module registers none (named).
        """
        for name in self.table:
            self[name]
        return self

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.load().table))  # the table's order

    def __len__(self) -> int:
        return len(self.load().table)

    def __contains__(self, name: object) -> bool:
        return name in self.table

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self.table)})"
