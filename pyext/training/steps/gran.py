"""GRAN's training step (``model.family: gran``; Im et al. 2016; networks: :mod:`pyext.models.gran`).

It is DCGAN's step (:class:`~.dcgan.DCGANStep`: one frame of each training patch per batch, drawn
from ``(train.seed, step, batch)``; ``critic_steps`` D updates, then one G update; the objective's
losses, the paper's non-saturating GAN loss being ``bce``; ``model.gran``'s optimiser at constant
rates, DCGAN's Adam: at the authors' 1e-4 for G and 4e-5 for D, G outran D on the demo set) with
GRAN's recurrent generator, whose
latent holds every step's noise (drawn as DCGAN's is), and DCGAN's discriminator at GRAN's width.
A distributed run synchronises batch norm as DCGAN's does (on GPUs; ``model.gran.batch_norm:
false`` on CPUs).
"""
from __future__ import annotations

from ...config import Params
from ...models.gran import GRAN, GRANDiscriminator
from .base import register_step
from .dcgan import DCGANStep


@register_step("gran")
class GRANStep(DCGANStep):
    """GRAN's generator and discriminator, their optimisers and one step (arguments:
    :class:`~.base.TrainingStep`'s)."""

    model: GRAN
    conditioned = False  # its generator takes no class

    @staticmethod
    def section(params: Params):
        return params.model.gran

    @staticmethod
    def networks(params: Params):
        return GRAN.from_params(params), GRANDiscriminator.from_params(params)


__all__ = ["GRANStep"]
