"""The adversarial objectives, one module per family, each registering its objectives by name
(:func:`register`). A new objective is its module plus one entry of :data:`pyext.config.OBJECTIVES`
naming it (and its params section, if it has knobs); the registry imports an objective's module
when its name is first used.
"""
from ...config import AdversarialParams
from .base import ADVERSARIAL, AdversarialObjective, DiscriminatorLoss, LogitObjective, register


def make_objective(params: AdversarialParams) -> AdversarialObjective:
    """The objective ``params.kind`` names, built from the ``loss.adversarial`` params."""
    return ADVERSARIAL[params.kind](params)


__all__ = ["ADVERSARIAL", "AdversarialObjective", "DiscriminatorLoss", "LogitObjective", "make_objective", "register"]
