"""The generator's loss ``L_G = adv * L_adv + lp * L_p + gdl * L_gdl + feature * L_feat`` (Mathieu
et al. 2016, section 3, with DeePSiM's feature term), every term summed over scales; ``L_adv`` comes
from the adversarial objective (:mod:`pyext.losses.adversarial`), ``L_feat`` from the comparator
(:mod:`pyext.losses.feature`); with ACGAN's class head ``+ adv * class_weight * L_C``
(:mod:`pyext.losses.conditioning`)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .. import ops
from ..config import LossParams
from .reconstruction import lp_loss


@dataclass
class GeneratorLoss:
    """``L_G`` and its terms per scale (coarsest first; ``feature`` summed over them), for logging."""

    total: torch.Tensor
    lp: list[torch.Tensor]
    gdl: list[torch.Tensor]
    adv: list[torch.Tensor] | None
    feature: torch.Tensor | None = None
    classes: torch.Tensor | None = None


def generator_loss(params: LossParams, preds: Sequence[torch.Tensor], targets: Sequence[torch.Tensor],
                   adversarial: list[torch.Tensor] | None = None, feature: torch.Tensor | None = None,
                   classes: torch.Tensor | None = None) -> GeneratorLoss:
    """``adv * L_adv + lp * L_p + gdl * L_gdl + feature * L_feat`` summed over scales.

    Args:
        params: the ``loss`` params.
        preds: the generator's outputs per scale, coarsest first, ``(B, n, 3, p_k, p_k)``.
        targets: the true frames' pyramid, the same shapes.
        adversarial: ``L_adv`` per scale (:meth:`AdversarialObjective.generator_loss`), or None when
            ``params.adv`` is 0.
        feature: ``L_feat`` (:class:`pyext.losses.feature.Comparator`), or None when ``params.feature`` is 0.
        classes: ``L_C`` of the generated clips (:class:`pyext.losses.conditioning.Condition`), or
            None (no class head).
    """
    lp = [lp_loss(y, t, params.p) for y, t in zip(preds, targets)]
    gdl = [ops.gdl_loss(y, t, alpha=params.alpha) for y, t in zip(preds, targets)]
    total = params.lp * torch.stack(lp).sum() + params.gdl * torch.stack(gdl).sum()
    if adversarial is not None:
        total = total + params.adv * torch.stack(adversarial).sum()
    if feature is not None:
        total = total + params.feature * feature
    if classes is not None:
        total = total + params.adv * params.class_weight * classes
    return GeneratorLoss(total, lp, gdl, adversarial, feature, classes)
