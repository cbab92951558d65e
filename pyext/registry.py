"""Registries by name (model families, discriminators, adversarial objectives, training steps):
a new piece is one class with a decorator, found by the name ``params.yaml`` gives."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def registrar(registry: dict[str, T], what: str, name: str) -> Callable[[T], T]:
    """A class decorator putting its class into ``registry`` under ``name``; a second class under
    the same name is an error naming ``what`` it is (e.g. "model family")."""
    def add(cls: T) -> T:
        if name in registry:
            raise ValueError(f"{what} {name!r} registered twice")
        registry[name] = cls
        return cls
    return add
