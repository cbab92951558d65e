"""VAE-GAN's training step (``model.family: vaegan``; Larsen et al. 2016, Algorithm 1; networks:
:mod:`pyext.models.vaegan`; its terms: :mod:`pyext.losses.vaegan`).

It is DCGAN's step (:class:`~.dcgan.DCGANStep`: one frame ``x`` of each training patch per batch,
drawn from ``(train.seed, step, batch)``; ``critic_steps`` discriminator updates, then one update of
the rest; the family's own optimiser at constant rates) with Algorithm 1's three networks, all
updated on the same batch (the last D batch's images and noise) with:

- ``z = Enc(x)`` (reparameterised with ``eps``), ``x~ = Dec(z)``, ``x_p = Dec(z_p)`` for prior ``z_p``;
- ``L_prior`` (:func:`~pyext.losses.vaegan.kl_divergence`, weighted by ``model.vaegan.kl_weight``)
  and ``L_llike^Dis_l`` (:func:`~pyext.losses.vaegan.feature_likelihood` of ``Dis_l(x~)`` against
  ``Dis_l(x)``, ``l = model.vaegan.layer``);
- ``L_GAN``: the adversarial objective's (``loss.adversarial``), D judging real samples against
  reconstructions and prior samples.

Updates (Algorithm 1): D by ``L_GAN`` alone (the likelihood does not train it: D is frozen during
the others' update and ``Dis_l(x)`` is a constant); the encoder by ``L_prior + L_llike`` (the GAN term
reaches the decoder through a code cut off from the encoder, so none of its gradient reaches the
encoder); the decoder by ``gamma * L_llike`` plus the objective's generator loss (``-L_GAN`` for bce).
The encoder and decoder share one optimiser (Adam and RMSProp are per weight): the encoder's loss is
backpropagated first, the decoder's gradients scaled by ``gamma``, then the GAN term's added.

A distributed run is refused (the encoder and decoder are not wrapped for one yet).
"""
from __future__ import annotations

import torch

from ...config import Params
from ...losses.adversarial import DiscriminatorLoss
from ...losses.vaegan import feature_likelihood, kl_divergence
from ...models import draw_latents
from ...models.vaegan import VAEGAN, VAEGANDiscriminator
from .base import register_step
from .dcgan import DCGANStep, frame_of_each

_EPS_STREAM = 0x65707300  # "eps": the reparameterisation's draws, apart from the prior latents of the same batch


@register_step("vaegan")
class VAEGANStep(DCGANStep):
    """VAE-GAN's encoder, decoder and discriminator, their optimisers and one step (arguments:
    :class:`~.base.TrainingStep`'s)."""

    model: VAEGAN
    D: VAEGANDiscriminator
    undistributed = "VAE-GAN's networks are not wrapped for one yet"
    conditioned = False  # its generator takes no class

    def __init__(self, params: Params, device: torch.device, **kwargs):
        super().__init__(params, device, **kwargs)
        # D judges two images per training frame (below): an objective's per-image draws (WGAN-GP's
        # mixing weights) are drawn for twice the batch.
        self.objective.rows = (2 * self.offset, 2 * self.tp.batch_size)

    @staticmethod
    def section(params: Params):
        return params.model.vaegan

    @staticmethod
    def networks(params: Params):
        return VAEGAN.from_params(params), VAEGANDiscriminator.from_params(params)

    def wrap(self, device: torch.device, distributed: bool, compile: bool) -> None:
        """The discriminator's callables (compiled with ``compile``)."""
        self.d_forward = self.d_judge = torch.compile(self.D) if compile else self.D

    def batch(self, clips: torch.Tensor, step: int, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Batch ``batch`` of update ``step``: one frame ``x`` of each of ``clips`` ``(B, 3, P, P)``,
        the reparameterisation's ``eps`` and the prior latents ``z_p``, each ``(B, latent)``."""
        x = frame_of_each(clips, (self.tp.seed, step, batch), self.offset, self.tp.batch_size)
        rows = slice(self.offset, self.offset + self.share)
        eps = draw_latents((self.tp.seed, step, batch, _EPS_STREAM), self.model.latent, self.tp.batch_size, rows,
                           self.device)
        return x, eps, self._latents(step, batch)

    def discriminator_loss(self, clips: torch.Tensor, step: int, batch: int, labels=None) -> DiscriminatorLoss:
        """``L_GAN`` for D: the real images against their reconstructions and prior samples
        (``labels``: not read, the family takes no class)."""
        x, eps, z_prior = self.batch(clips, step, batch)
        with torch.no_grad():
            z = self.model.encode(x, eps)[0]
            fakes = self.model.decoder(torch.cat([z, z_prior]))
        # The reals judged twice, so that they weigh as much as both generated kinds together (as the
        # authors' code weighs them) and every objective pairs each generated image with a real one
        # (WGAN-GP's interpolates).
        return self.objective.discriminator_loss(self.d_forward, [torch.cat([x, x])], [fakes])

    def generator_update(self, clips: torch.Tensor, step: int, batch: int) -> dict[str, torch.Tensor]:
        """The encoder's and decoder's update on the last D batch (``clips``, batch ``batch - 1``):
        the module docstring. Returns the logged values: ``loss_g`` (the decoder's loss), ``kl``
        and ``likelihood``."""
        v = self.d
        x, eps, z_prior = self.batch(clips, step, batch - 1)
        with self.autocast:
            z, mu, logvar = self.model.encode(x, eps)
            with torch.no_grad():
                target = self.D.features(x, v.layer)
            likelihood = feature_likelihood(self.D.features(self.model.decoder(z), v.layer), target)
            prior = kl_divergence(mu, logvar)
            # L_GAN's images decoded from the code cut off from the encoder: its gradient reaches the decoder alone.
            fakes = self.model.decoder(torch.cat([z.detach(), z_prior]))
            gan = torch.stack(self.objective.generator_loss(self.d_judge, [fakes])).sum()
        self.opt_g.zero_grad(set_to_none=True)
        (v.kl_weight * prior + likelihood).backward()  # the encoder's loss (and the decoder's likelihood)
        for p in self.model.decoder.parameters():
            if p.grad is not None:
                p.grad.mul_(v.gamma)  # the decoder's: gamma * L_llike ...
        gan.backward()  # ... plus the GAN term
        self.opt_g.step()
        decoder_loss = v.gamma * likelihood.detach() + gan.detach()
        self.nonfinite |= ~torch.isfinite(decoder_loss + prior.detach())
        return {"loss_g": decoder_loss, "kl": prior.detach(), "likelihood": likelihood.detach()}


__all__ = ["VAEGANStep"]
