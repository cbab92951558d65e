"""The generator's and the discriminator's losses (Mathieu et al. 2016, section 3).

``L_G = adv * L_adv + lp * L_p + gdl * L_gdl``, every term summed over scales. The adversarial
objective is a named, pluggable piece (:data:`ADVERSARIAL`): it is handed the discriminator and
computes both players' losses, so objectives that need more than logits (a gradient penalty, an
energy, a running balance term) fit without changing the training loop.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import ops
from .config import ADVERSARIAL_OBJECTIVES, LossParams

Discriminator = Callable[[torch.Tensor, Sequence[torch.Tensor]], list[torch.Tensor]]


@dataclass
class DiscriminatorLoss:
    """One discriminator update's loss per scale (coarsest first) and the logits it saw."""

    per_scale: list[torch.Tensor]
    real_logits: list[torch.Tensor]
    fake_logits: list[torch.Tensor]

    @property
    def total(self) -> torch.Tensor:
        return torch.stack(self.per_scale).sum()

    def accuracy(self) -> torch.Tensor:
        """Fraction of clips, real and generated, over all scales, the discriminator gets right."""
        right = [(r > 0).float().mean() + (f < 0).float().mean() for r, f in zip(self.real_logits, self.fake_logits)]
        return torch.stack(right).mean() / 2


class AdversarialObjective:
    """What an adversarial objective provides. It calls ``D`` once per update (a distributed
    discriminator allows one forward per backward): several kinds of clips go in one batch.

    ``x`` is the input frames ``(B, m, 3, P, P)``; ``real`` and ``fake`` are lists per scale,
    coarsest first, of the real frames' pyramid and the generator's outputs ``(B, n, 3, p_k, p_k)``.
    """

    def discriminator_loss(self, D: Discriminator, x: torch.Tensor, real: Sequence[torch.Tensor],
                           fake: Sequence[torch.Tensor]) -> DiscriminatorLoss:
        raise NotImplementedError

    def generator_loss(self, D: Discriminator, x: torch.Tensor, fake: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``L_adv`` per scale; its gradient must reach the generator through ``fake``."""
        raise NotImplementedError


class BCEObjective(AdversarialObjective):
    """The paper's: binary cross-entropy, real clips labelled 1, generated ones 0, per scale; the
    generator asks the discriminator to answer 1 (the non-saturating form)."""

    def discriminator_loss(self, D, x, real, fake):
        # One call on real and generated clips together: DistributedDataParallel allows one
        # forward per backward.
        logits = D(torch.cat([x, x]), [torch.cat([r, f]) for r, f in zip(real, fake)])
        real_logits, fake_logits = [z[:len(x)] for z in logits], [z[len(x):] for z in logits]
        per_scale = [F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                     + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
                     for r, f in zip(real_logits, fake_logits)]
        return DiscriminatorLoss(per_scale, real_logits, fake_logits)

    def generator_loss(self, D, x, fake):
        return [F.binary_cross_entropy_with_logits(f, torch.ones_like(f)) for f in D(x, fake)]


ADVERSARIAL: dict[str, type[AdversarialObjective]] = {"bce": BCEObjective}
assert tuple(ADVERSARIAL) == ADVERSARIAL_OBJECTIVES, "pyext.config.ADVERSARIAL_OBJECTIVES lists these names"


def lp_loss(pred: torch.Tensor, target: torch.Tensor, p: int) -> torch.Tensor:
    """Mean ``|pred - target|^p`` (paper eq. 2), p 1 or 2."""
    diff = pred - target
    return diff.abs().mean() if p == 1 else diff.square().mean()


@dataclass
class GeneratorLoss:
    """``L_G`` and its terms per scale (coarsest first), for logging."""

    total: torch.Tensor
    lp: list[torch.Tensor]
    gdl: list[torch.Tensor]
    adv: list[torch.Tensor] | None


def generator_loss(params: LossParams, preds: Sequence[torch.Tensor], targets: Sequence[torch.Tensor],
                   adversarial: list[torch.Tensor] | None = None) -> GeneratorLoss:
    """``adv * L_adv + lp * L_p + gdl * L_gdl`` summed over scales.

    Args:
        params: the ``loss`` params.
        preds: the generator's outputs per scale, coarsest first, ``(B, n, 3, p_k, p_k)``.
        targets: the true frames' pyramid, the same shapes.
        adversarial: ``L_adv`` per scale (:meth:`AdversarialObjective.generator_loss`), or None when
            ``params.adv`` is 0.
    """
    lp = [lp_loss(y, t, params.p) for y, t in zip(preds, targets)]
    gdl = [ops.gdl_loss(y, t, alpha=params.alpha) for y, t in zip(preds, targets)]
    total = params.lp * torch.stack(lp).sum() + params.gdl * torch.stack(gdl).sum()
    if adversarial is not None:
        total = total + params.adv * torch.stack(adversarial).sum()
    return GeneratorLoss(total, lp, gdl, adversarial)
