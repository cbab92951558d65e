"""The adversarial objectives, one module per family, each registering its objectives by name
(:func:`register`). Every module of this package is imported here, so a new objective is one new
file: a class with :func:`register`, plus its name (and its params section, if it has knobs) in
:mod:`pyext.config`.
"""
import importlib
import pkgutil

from ...config import ADVERSARIAL_OBJECTIVES, AdversarialParams
from .base import ADVERSARIAL, AdversarialObjective, DiscriminatorLoss, LogitObjective, register

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")
assert sorted(ADVERSARIAL) == sorted(ADVERSARIAL_OBJECTIVES), \
    f"pyext.config.ADVERSARIAL_OBJECTIVES {ADVERSARIAL_OBJECTIVES} must name the registered {tuple(ADVERSARIAL)}"


def make_objective(params: AdversarialParams) -> AdversarialObjective:
    """The objective ``params.kind`` names, built from the ``loss.adversarial`` params."""
    return ADVERSARIAL[params.kind](params)


__all__ = ["ADVERSARIAL", "AdversarialObjective", "DiscriminatorLoss", "LogitObjective", "make_objective", "register"]
