"""The original GAN objective (Goodfellow et al. 2014) on logits: binary cross-entropy, real clips
labelled 1 and generated ones 0, per scale."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import LogitObjective, register


def _bce(z: torch.Tensor, label: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(z, torch.full_like(z, label), reduction="none")


@register("bce")
class BCEObjective(LogitObjective):
    """The paper's (Mathieu et al. 2016): D minimises ``-log sigma(r) - log(1 - sigma(f))``; G asks
    D to answer "real", ``-log sigma(f)`` (the non-saturating form)."""

    def d_real(self, r):
        return _bce(r, 1.0)

    def d_fake(self, f):
        return _bce(f, 0.0)

    def g(self, f):
        return _bce(f, 1.0)


@register("minimax")
class MinimaxObjective(BCEObjective):
    """The saturating form of the same game: G minimises ``log(1 - sigma(f))``, i.e. maximises D's
    loss on generated clips."""

    def g(self, f):
        return -_bce(f, 0.0)
