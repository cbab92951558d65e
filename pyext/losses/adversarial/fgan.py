"""f-GAN (Nowozin, Cseke & Tomioka 2016): the discriminator's output ``v`` goes through the output
activation ``g_f`` of a divergence; D maximises ``E_P[g_f(v)] - E_Q[f*(g_f(v))]`` (a variational
lower bound of the divergence between the real clips P and the generated ones Q), and G maximises
``E_Q[g_f(v)]`` (the paper's practical form). ``loss.adversarial.fgan.divergence`` picks f.

Each divergence is written twice: the textbook pair (``activation`` ``g_f``, ``conjugate`` ``f*``,
the paper's Table 2) and the losses as used, simplified into numerically stable forms (softplus
instead of ``log(1 + exp)``, ``f*(g_f(v))`` collapsed): a test checks both agree wherever the
textbook form is finite. D's answer is "real" where ``g_f(v) > f'(1)``, the optimal critic's value
where P = Q.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .base import LogitObjective, register

LOG2 = math.log(2.0)
Fn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Divergence:
    """One f-divergence. ``d_real``, ``d_fake``, ``g``: per-clip losses of D on real clips
    (``-g_f(v)``), of D on generated clips (``f*(g_f(v))``), of G (``-g_f(v)``), in stable forms;
    ``activation``, ``conjugate``: the textbook ``g_f`` and ``f*``; ``f_prime_1``: ``f'(1)``;
    ``threshold``: the ``v`` where ``g_f(v) = f'(1)``."""

    d_real: Fn
    d_fake: Fn
    g: Fn
    activation: Fn
    conjugate: Fn
    f_prime_1: float
    threshold: float


DIVERGENCES: dict[str, Divergence] = {
    "kl": Divergence(
        d_real=lambda r: -r, d_fake=lambda f: torch.exp(f - 1), g=lambda f: -f,
        activation=lambda v: v, conjugate=lambda t: torch.exp(t - 1), f_prime_1=1.0, threshold=1.0),
    "reverse_kl": Divergence(
        d_real=lambda r: torch.exp(-r), d_fake=lambda f: f - 1, g=lambda f: torch.exp(-f),
        activation=lambda v: -torch.exp(-v), conjugate=lambda t: -1 - torch.log(-t), f_prime_1=-1.0, threshold=0.0),
    "pearson": Divergence(
        d_real=lambda r: -r, d_fake=lambda f: 0.25 * f.square() + f, g=lambda f: -f,
        activation=lambda v: v, conjugate=lambda t: 0.25 * t.square() + t, f_prime_1=0.0, threshold=0.0),
    "hellinger": Divergence(  # squared Hellinger
        d_real=lambda r: torch.expm1(-r), d_fake=lambda f: torch.expm1(f), g=lambda f: torch.expm1(-f),
        activation=lambda v: 1 - torch.exp(-v), conjugate=lambda t: t / (1 - t), f_prime_1=0.0, threshold=0.0),
    "js": Divergence(  # Jensen-Shannon
        d_real=lambda r: F.softplus(-r) - LOG2, d_fake=lambda f: F.softplus(f) - LOG2, g=lambda f: F.softplus(-f) - LOG2,
        activation=lambda v: LOG2 - torch.log1p(torch.exp(-v)), conjugate=lambda t: -torch.log(2 - torch.exp(t)),
        f_prime_1=0.0, threshold=0.0),
    "gan": Divergence(
        d_real=lambda r: F.softplus(-r), d_fake=lambda f: F.softplus(f), g=lambda f: F.softplus(-f),
        activation=lambda v: -torch.log1p(torch.exp(-v)), conjugate=lambda t: -torch.log(1 - torch.exp(t)),
        f_prime_1=-LOG2, threshold=0.0),
}


@register("fgan")
class FGANObjective(LogitObjective):
    """f-GAN with the divergence ``loss.adversarial.fgan.divergence``."""

    def __init__(self, params):
        super().__init__(params)
        self.divergence = DIVERGENCES[params.fgan.divergence]
        self.threshold = self.divergence.threshold

    def d_real(self, r):
        return self.divergence.d_real(r)

    def d_fake(self, f):
        return self.divergence.d_fake(f)

    def g(self, f):
        return self.divergence.g(f)
