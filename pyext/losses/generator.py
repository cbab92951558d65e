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


def best_of_many(params: LossParams, preds: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]
                 ) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
    """``L_p`` and ``L_gdl`` per scale of each clip's best sample (Bhattacharyya et al. 2018).

    Args:
        preds: per scale ``(M * B, n, 3, p_k, p_k)``: M samples of each of B clips, sample-major (rows
            ``k * B .. (k + 1) * B - 1`` the k-th sample of every clip).
        targets: per scale ``(B, n, 3, p_k, p_k)``.
    Returns:
        ``lp`` and ``gdl``: per scale, the mean over clips of the chosen sample's term (the means
        :func:`generator_loss` takes of one sample a clip); ``chosen`` ``(B,)``: each clip's sample,
        the least ``lp * L_p + gdl * L_gdl`` over scales.
    """
    b = len(targets[0])
    m = len(preds[0]) // b
    lp_each, gdl_each = [], []
    for y, t in zip(preds, targets):
        t = t.repeat(m, *(1,) * (t.dim() - 1))
        lp_each.append(lp_loss(y, t, params.p, per_clip=True).view(m, b))
        per_image = ops.gdl_loss(y, t, alpha=params.alpha, reduction="none")  # (M * B, n, 3)
        gdl_each.append((per_image.flatten(1).sum(1) / y[0].numel()).view(m, b))
    score = params.lp * torch.stack(lp_each).sum(0) + params.gdl * torch.stack(gdl_each).sum(0)  # (M, B)
    chosen = score.detach().argmin(0)

    def of_chosen(each: torch.Tensor) -> torch.Tensor:
        return each.gather(0, chosen[None]).mean()

    return [of_chosen(e) for e in lp_each], [of_chosen(e) for e in gdl_each], chosen


def generator_loss(params: LossParams, preds: Sequence[torch.Tensor], targets: Sequence[torch.Tensor],
                   adversarial: list[torch.Tensor] | None = None, feature: torch.Tensor | None = None,
                   classes: torch.Tensor | None = None) -> GeneratorLoss:
    """``adv * L_adv + lp * L_p + gdl * L_gdl + feature * L_feat`` summed over scales; where
    ``preds`` hold several samples of each clip of ``targets`` (``loss.best_of``), ``L_p`` and
    ``L_gdl`` are the best sample's per clip (:func:`best_of_many`).

    Args:
        params: the ``loss`` params.
        preds: the generator's outputs per scale, coarsest first, ``(B, n, 3, p_k, p_k)``, or
            ``(M * B, ...)``: M samples of each clip, sample-major.
        targets: the true frames' pyramid, the same shapes.
        adversarial: ``L_adv`` per scale (:meth:`AdversarialObjective.generator_loss`), or None when
            ``params.adv`` is 0.
        feature: ``L_feat`` (:class:`pyext.losses.feature.Comparator`), or None when ``params.feature`` is 0.
        classes: ``L_C`` of the generated clips (:class:`pyext.losses.conditioning.Condition`), or
            None (no class head).
    """
    if len(preds[0]) != len(targets[0]):
        lp, gdl, _ = best_of_many(params, preds, targets)
    else:
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
