"""VAE-GAN (Larsen, Sønderby, Larochelle & Winther 2016, arXiv 1512.09300), the ``vaegan`` family: a
variational autoencoder whose decoder is a GAN's generator, its reconstructions measured in a hidden
layer of the GAN's discriminator.

- The encoder maps an image to the mean and log-variance of a diagonal Gaussian ``q(z|x)`` (the
  VAE's; its KL term to the prior N(0, I), :func:`pyext.losses.vaegan.kl_divergence`): DCGAN's
  discriminator layout (strided convolutions, LeakyReLU 0.2, batch norm but at the input layer) whose
  last convolution gives ``2 * latent`` numbers in place of one logit.
- The decoder is the generator, DCGAN's (:class:`pyext.models.dcgan.DCGAN`): a :class:`NoiseGenerator`
  whose samples decode prior latents ``z ~ N(0, I)``, and whose reconstructions decode
  ``z = mu + sigma * eps`` (the reparameterisation, Kingma & Welling 2014).
- The discriminator is DCGAN's (:class:`VAEGANDiscriminator`) with its hidden layers open:
  :meth:`VAEGANDiscriminator.features` gives ``Dis_l``, where the reconstruction's likelihood is
  measured (:func:`pyext.losses.vaegan.feature_likelihood`).

Larsen et al.'s networks for 64x64 faces are of the same kind (5x5 strided convolutions with batch
norm and ReLU, a fully connected layer before the code); DCGAN's layout is used here for both sizes
the family takes (32, 64), so that VAE-GAN and DCGAN differ by the VAE and the learned similarity alone.

Training: :mod:`pyext.training.steps.vaegan`; evaluation: :mod:`pyext.evaluation.generation`.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import NoiseGenerator, register_family
from .dcgan import DCGAN, DCGANDiscriminator, discriminator_norm, strided_layers


class Encoder(nn.Module):
    """Images ``(B, 3, size, size)`` -> ``(mu, logvar)``, each ``(B, latent)`` (the module docstring)."""

    def __init__(self, size: int, latent: int, width: float, batch_norm: bool):
        super().__init__()
        self.latent = latent
        self.net = strided_layers(size, width, "batch" if batch_norm else "none", outputs=2 * latent)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(images).chunk(2, dim=1)


@register_family("vaegan")
class VAEGAN(NoiseGenerator):
    """VAE-GAN's encoder and decoder (the module docstring); as a generator from noise, its decoder:
    z ``(B, latent)`` -> images ``(B, 3, size, size)`` in [-1, 1].

    Args:
        size: the image side, 32 or 64 (``clip.patch``).
        latent: z's size.
        width: multiplies every map count of both networks.
        batch_norm: batch norm in both (but the decoder's output and the encoder's input layers).
    """

    def __init__(self, size: int = 32, latent: int = 128, width: float = 0.5, batch_norm: bool = True):
        super().__init__()
        self.decoder = DCGAN(size=size, latent=latent, width=width, batch_norm=batch_norm)
        self.encoder = Encoder(size, latent, width, batch_norm)
        self.size, self.latent, self.width, self.batch_norm = size, latent, width, bool(batch_norm)

    @classmethod
    def from_params(cls, params: Any) -> VAEGAN:
        v = params.model.vaegan
        return cls(size=params.clip.patch, latent=v.latent, width=v.width, batch_norm=v.batch_norm)

    def config(self) -> dict:
        return {"size": self.size, "latent": self.latent, "width": self.width, "batch_norm": self.batch_norm}

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder: ``(B, latent)`` -> ``(B, 3, size, size)`` in [-1, 1]."""
        return self.decoder(z, labels)

    def encode(self, images: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``q(z|x)`` of images ``(B, 3, size, size)``: ``(z, mu, logvar)``, each ``(B, latent)``, with
        ``z = mu + exp(logvar / 2) * eps`` for standard normal ``eps`` ``(B, latent)``."""
        mu, logvar = self.encoder(images)
        return mu + (0.5 * logvar).exp() * eps, mu, logvar


    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """The decoder's image of each image's code mean: ``(B, 3, size, size)`` -> the same."""
        return self.decoder(self.encoder(images)[0])


class VAEGANDiscriminator(DCGANDiscriminator):
    """DCGAN's discriminator (called as the objectives call one) whose hidden layers give ``Dis_l``."""

    @classmethod
    def from_params(cls, params: Any) -> VAEGANDiscriminator:
        v = params.model.vaegan
        return cls(size=params.clip.patch, width=v.width, norm=discriminator_norm(params, v))

    def features(self, images: torch.Tensor, layer: int) -> torch.Tensor:
        """``Dis_l``: the activations after the ``layer``-th strided convolution (1-based; its
        normalisation and LeakyReLU applied) of images ``(B, 3, size, size)``:
        ``(B, C_l, size / 2^l, size / 2^l)``."""
        ends = [i for i, m in enumerate(self.net) if isinstance(m, nn.LeakyReLU)]
        if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= len(ends):
            raise ValueError(f"layer must be an int in 1..{len(ends)} (the discriminator's hidden layers), "
                             f"got {layer!r}")
        return self.net[:ends[layer - 1] + 1](images)


__all__ = ["VAEGAN", "Encoder", "VAEGANDiscriminator"]
