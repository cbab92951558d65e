"""BigGAN's training step (``model.family: biggan``; Brock, Donahue & Simonyan 2019; networks:
:mod:`pyext.models.biggan`; its term: :mod:`pyext.losses.biggan`).

It is DCGAN's step (:class:`~.dcgan.DCGANStep`: one frame of each training patch per batch, drawn
from ``(train.seed, step, batch)``; ``critic_steps`` D updates, then one G update; the family's own
optimiser at constant rates; the objective's losses, the paper's hinge with 2 D steps in
``configs/biggan.yaml``; a projection discriminator through ``model.condition: projection``) with:

- G's loss plus the orthogonal regularisation of its weights (``model.biggan.ortho``,
  :func:`~pyext.losses.biggan.orthogonal_regularisation`; the shared class embedding left out);
- an exponential moving average of G's weights, updated after every G update:
  ``G_ema <- decay * G_ema + (1 - decay) * G`` with ``decay = model.biggan.ema_decay`` from update
  ``ema_start`` on and 0 before (a copy of G), as the authors' ``utils.ema`` does. Their average
  runs over every entry of G's state, buffers included; here the buffers (batch-norm statistics,
  spectral norm's power-iteration vectors) are copied from G instead, since an average of
  normalised singular vectors is not one, and both are taken afresh below;
- **standing statistics** (the authors' ``utils.accumulate_standing_stats``, used with the EMA):
  before the averaged generator is measured, pictured or saved, its batch norms' running statistics
  are reset and accumulated as a plain average (``momentum = None``) over ``model.biggan.standing``
  batches of ``train.batch_size`` latents (and classes) from a fixed seed, G_ema in training mode;
  these forwards also run spectral norm's power iteration on G_ema's own weights. The statistics
  then describe the averaged weights' activations, which G's running statistics (those of other
  weights) do not.

The averaged generator is the step's ``model``: what the loop measures (FID, KID), pictures and
saves as ``models/generator.pt``, so evaluation and ``beyondmse sample`` use it; a checkpoint holds
it beside the trained G and D.

A distributed run is refused (the average and its standing statistics are not synchronised over
processes yet; PyTorch synchronises G's batch norms on GPUs only).
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ...config import Params
from ...losses.biggan import orthogonal_regularisation
from ...models import draw_latents
from ...models.base import draw_classes
from ...models.biggan import BigGAN, BigGANDiscriminator
from .base import register_step
from .dcgan import DCGANStep

_STANDING_KEY = 0x7374616E  # "stan": the standing statistics' draws, (train.seed, this, batch)


@torch.no_grad()
def average_into(average: nn.Module, model: nn.Module, decay: float) -> None:
    """One update of an exponential moving average, in place: every parameter of ``average``
    becomes ``decay * average + (1 - decay) * model`` (``decay`` 0: a copy), every buffer ``model``'s
    (the module docstring). ``average`` is a copy of ``model``'s architecture."""
    for mine, theirs in zip(average.parameters(), model.parameters()):
        mine.lerp_(theirs, 1.0 - decay)  # mine + (1 - decay) (theirs - mine)
    for mine, theirs in zip(average.buffers(), model.buffers()):
        mine.copy_(theirs)


@torch.no_grad()
def standing_statistics(generator: nn.Module, batches: int, batch_size: int, seed: int, classes: int,
                        device: torch.device) -> None:
    """Resets the running statistics of every batch norm of ``generator`` (a
    :class:`~pyext.models.NoiseGenerator`) and accumulates them as a plain average over ``batches``
    forwards of ``batch_size`` standard normal latents (and uniform classes of ``classes``, where it
    is conditioned) drawn from ``(seed, batch)``, in training mode; leaves it in eval mode. Torch's
    global random state is untouched."""
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average of the batches' statistics
    generator.train()
    try:
        for i in range(batches):
            z = draw_latents((seed, _STANDING_KEY, i), generator.latent, batch_size, device=device)
            labels = draw_classes((seed, _STANDING_KEY, i), classes, batch_size, device=device) if classes else None
            generator(z, labels)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        generator.eval()


@register_step("biggan")
class BigGANStep(DCGANStep):
    """BigGAN's generator, its moving average and discriminator, their optimisers and one step
    (arguments: :class:`~.base.TrainingStep`'s; ``classes``: the data's, where ``model.condition`` is
    ``projection``). ``G`` is the trained generator; ``model`` its moving average (the module docstring)."""

    D: BigGANDiscriminator
    undistributed = "BigGAN's moving average and its standing statistics are not synchronised over processes yet"

    def __init__(self, params: Params, device: torch.device, **kwargs):
        super().__init__(params, device, **kwargs)
        self.G: BigGAN = self.model  # trained by the optimiser (DCGANStep built it as the model)
        self.model = copy.deepcopy(self.G).requires_grad_(False)  # what is measured and saved

    @staticmethod
    def section(params: Params):
        return params.model.biggan

    def networks(self, params: Params) -> tuple[nn.Module, nn.Module]:
        return (BigGAN.from_params(params, **self.condition.generator),
                BigGANDiscriminator.from_params(params, **self.condition.discriminator))

    @property
    def generator(self) -> BigGAN:
        """The moving average with fresh standing statistics, in eval mode."""
        self.standing_statistics()
        return self.model

    def standing_statistics(self) -> None:
        """The moving average's batch-norm statistics taken afresh (:func:`standing_statistics`)."""
        standing_statistics(self.model, self.d.standing, self.share, self.tp.seed, self.model.classes, self.device)

    def generator_update(self, clips: torch.Tensor, step: int, batch: int) -> dict[str, torch.Tensor]:
        """G's update by its loss plus the orthogonal regularisation, then the moving average's.
        Returns the logged values: ``loss_g`` (the objective's term) and ``ortho``."""
        with self.autocast:
            g_loss = self.generator_loss(clips, step, batch)
        ortho = orthogonal_regularisation(self.G.parameters(), self.d.ortho, self.G.exempt()).to(g_loss.device)
        self._update(self.opt_g, g_loss + ortho)
        average_into(self.model, self.G, self.d.ema_decay if step >= self.d.ema_start else 0.0)
        if step + 1 == self.tp.steps:  # the last update: the saved generator's statistics
            self.standing_statistics()
        return {"loss_g": g_loss.detach(), "ortho": ortho.detach()}

    @torch.no_grad()
    def pictures(self, batch) -> dict[str, np.ndarray]:
        """DCGAN's ``samples`` picture, of the moving average with fresh standing statistics."""
        self.standing_statistics()
        try:
            return super().pictures(batch)
        finally:
            self.model.eval()

    def state(self) -> dict:
        return super().state() | {"trained_generator": self.G.state_dict()}

    def load_state(self, saved: dict) -> None:
        super().load_state(saved)
        self.G.load_state_dict(saved["trained_generator"])


__all__ = ["BigGANStep", "average_into", "standing_statistics"]
