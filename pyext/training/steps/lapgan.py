"""LAPGAN's training step (``model.family: lapgan``; Denton et al. 2015; networks:
:mod:`pyext.models.lapgan`): every level's GAN trained independently on the real pyramid, with the
losses of the adversarial objective (``loss.adversarial``) and nothing else.

It is DCGAN's step (:class:`~.dcgan.DCGANStep`: one frame of each training patch, drawn from
``(train.seed, step, batch)``; ``critic_steps`` discriminator updates, each on a batch of its own,
then one generator update; the family's own optimiser at constant rates) with a pyramid in place of
one image. Per batch, the real images' levels (:func:`pyext.models.lapgan.real_levels`: the
residuals ``h_k`` of :func:`pyext.laplacian_pyramid` and the low-pass images ``l_k`` they are judged
given) and the noise of every level drawn as one z of the model's size; then per level (eq. 3 of
the paper, each level its own game):

- ``D_k`` judges the real ``h_k`` against ``G_k(z_k, l_k)`` given ``l_k`` (the coarsest: the real
  coarse image against ``G(z)``, given nothing);
- ``G_k``, conditioned on the real ``l_k`` of the last D batch's images, is judged by ``D_k``.

The levels share no weights, so one loss summed over the levels and one optimiser over all of
them updates each level exactly as its own would (Adam and RMSProp are per weight). The logged
``d_accuracy`` (or ``critic_distance``) counts every level as a scale.

A distributed run is refused (the levels are not wrapped in DistributedDataParallel yet).
"""
from __future__ import annotations

import torch

from ...config import Params
from ...losses.adversarial import DiscriminatorLoss
from ...models.lapgan import LAPGAN, LAPGANDiscriminators, real_levels
from .base import register_step
from .dcgan import DCGANStep, frame_of_each


@register_step("lapgan")
class LAPGANStep(DCGANStep):
    """LAPGAN's generators and discriminators, their optimisers and one step (arguments:
    :class:`~.base.TrainingStep`'s)."""

    model: LAPGAN
    D: LAPGANDiscriminators
    undistributed = "LAPGAN's levels are not wrapped for one yet"
    conditioned = False  # its generator takes no class

    @staticmethod
    def section(params: Params):
        return params.model.lapgan

    @staticmethod
    def networks(params: Params):
        return LAPGAN.from_params(params), LAPGANDiscriminators.from_params(params)

    def wrap(self, device: torch.device, distributed: bool, compile: bool) -> None:
        """Per level, the callables of ``G_k`` and ``D_k`` (compiled with ``compile``)."""
        self.g_levels = list(self.model.generators)
        self.d_levels = list(self.D)
        if compile:
            self.g_levels = [torch.compile(g) for g in self.g_levels]
            self.d_levels = [torch.compile(d) for d in self.d_levels]

    def fakes(self, noise: list[torch.Tensor], levels: list[tuple[torch.Tensor, torch.Tensor | None]]
              ) -> list[torch.Tensor]:
        """Per level, finest first, what ``G_k`` makes of its noise given the real level's
        conditioning: residuals ``(B, 3, s_k, s_k)``, the coarsest level's images last."""
        return [g(z) if low_pass is None else g(z, low_pass)
                for g, z, (_, low_pass) in zip(self.g_levels, noise, levels)]

    def _real(self, clips: torch.Tensor, step: int, batch: int) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """The real levels of one frame of each of ``clips`` (drawn as for batch ``batch`` of ``step``)."""
        real = frame_of_each(clips, (self.tp.seed, step, batch), self.offset, self.tp.batch_size)
        return real_levels(real, self.model.levels)

    def discriminator_loss(self, clips: torch.Tensor, step: int, batch: int, labels=None) -> DiscriminatorLoss:
        """Every ``D_k``'s loss, the levels as scales: the real residual against ``G_k``'s, given the
        real ``l_k`` (``labels``: not read, the family takes no class)."""
        levels = self._real(clips, step, batch)
        with torch.no_grad():
            fakes = self.fakes(self.model.split(self._latents(step, batch)), levels)
        return _as_scales([self.objective.discriminator_loss(d, [target], [fake], low_pass)
                           for d, fake, (target, low_pass) in zip(self.d_levels, fakes, levels)])

    def generator_loss(self, clips: torch.Tensor, step: int, batch: int) -> torch.Tensor:
        """Every ``G_k``'s loss summed, judged by ``D_k``, conditioned on the real levels of the last D
        batch's images (``clips``, batch ``batch - 1``), on fresh noise (batch ``batch``'s)."""
        levels = self._real(clips, step, batch - 1)
        fakes = self.fakes(self.model.split(self._latents(step, batch)), levels)
        return torch.stack([loss for d, fake, (_, low_pass) in zip(self.d_levels, fakes, levels)
                            for loss in self.objective.generator_loss(d, [fake], low_pass)]).sum()


def _as_scales(losses: list[DiscriminatorLoss]) -> DiscriminatorLoss:
    """The levels' discriminator losses as one, each level a scale: its total their sum, its
    measures over all levels."""
    first = losses[0]
    return type(first)([s for loss in losses for s in loss.per_scale], [r for loss in losses for r in loss.real_logits],
                       [f for loss in losses for f in loss.fake_logits], first.threshold)


__all__ = ["LAPGANStep"]
