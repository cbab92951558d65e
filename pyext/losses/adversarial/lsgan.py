"""Least-squares GAN (Mao et al. 2017), the 0-1 coding: D minimises ``0.5 (r - 1)^2 + 0.5 f^2``, G
``0.5 (f - 1)^2``. D's answer is a score, not a logit: "real" above 0.5, halfway between the
targets."""
from __future__ import annotations

from .base import LogitObjective, register


@register("lsgan")
class LSGANObjective(LogitObjective):
    threshold = 0.5
    halved = True  # 0.5 on every term

    def d_real(self, r):
        return 0.5 * (r - 1).square()

    def d_fake(self, f):
        return 0.5 * f.square()

    def g(self, f):
        return 0.5 * (f - 1).square()
