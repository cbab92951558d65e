"""GRAN (Im, Kim, Jiang & Memisevic 2016, "Generating images with recurrent adversarial networks",
arXiv 1602.05110), the ``gran`` family: a recurrent generator that draws an image on a canvas over
``T`` steps, against a discriminator that judges the finished image.

Section 3.1 of the paper: at step ``t`` the decoder ``f`` takes the noise ``z_t`` (projected, the
authors' ``tanh(BN(W z))``) beside the hidden code ``h_{c,t}`` and writes ``Delta C_t``; the encoder
``g`` reads that output into the next step's code, ``h_{c,t+1} = g(Delta C_t)`` (``h_{c,1} = 0``);
the canvas is the sum ``C = sum_t Delta C_t``, and the image is its squashing after the sum (the
paper's sigmoid for pixels in [0, 1]; tanh here, for the project's [-1, 1]).

Noise (``noise``): ``each`` draws a fresh ``z_t`` per step, the paper's "sequence of noise samples
drawn from the prior"; ``once`` gives every step the same ``z``, as the authors' code does (its
recurrence reads ``Zs[0]`` of the per-step draws). The generator's latent holds all of it: ``T``
chunks of ``noise_size`` (``each``) or one (``once``), so truncating the latent truncates every
step's noise.

Networks: the decoder is DCGAN's generator (:class:`~.dcgan.DCGAN`: a fractionally strided
convolution from the 1x1 code to 4x4, then doubling to the image, batch norm and ReLU) without its
output tanh, which comes after the sum; the encoder is DCGAN's discriminator layout
(:func:`~.dcgan.strided_layers`) giving the code, then tanh, as the authors' encoder ends in
``tanh``. The authors' 32x32 networks are of this kind (4x4 kernels, strided convolutions, batch
norm; 1024 maps at 4x4); DCGAN's layout and initialisation are used so that GRAN and DCGAN differ by
the recurrence alone. The discriminator is DCGAN's (the authors' is a plain convolutional classifier).

Training: :mod:`pyext.training.steps.gran`; evaluation: :mod:`pyext.evaluation.generation` (with
a picture of the canvas after each step).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import NoiseGenerator, register_family
from .dcgan import DCGAN, DCGANDiscriminator, discriminator_norm, strided_layers

NOISE = ("each", "once")  # fresh noise per step (the paper's text) | one z for every step (the authors' code)


@register_family("gran")
class GRAN(NoiseGenerator):
    """GRAN's recurrent generator (the module docstring): z ``(B, latent)`` -> images
    ``(B, 3, size, size)`` in [-1, 1], drawn over ``steps`` steps.

    Args:
        size: the image side, 32 or 64 (``clip.patch``).
        noise_size: the size of one step's noise ``z_t`` (and of the hidden code ``h_c``).
        steps: ``T``, the drawing steps.
        noise: ``each`` or ``once`` (:data:`NOISE`): ``latent`` is ``steps * noise_size`` or ``noise_size``.
        width: multiplies every map count of the decoder and encoder (as ``model.dcgan.width``).
        batch_norm: batch norm where DCGAN's guidelines put it, and after the noise's projection.
    """

    def __init__(self, size: int = 32, noise_size: int = 100, steps: int = 3, noise: str = "each",
                 width: float = 0.5, batch_norm: bool = True):
        super().__init__()
        for name, value in (("noise_size", noise_size), ("steps", steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if noise not in NOISE:
            raise ValueError(f"noise must be one of {', '.join(NOISE)}, got {noise!r}")
        self.size, self.noise_size, self.steps, self.noise = size, noise_size, steps, noise
        self.width, self.batch_norm = width, bool(batch_norm)
        self.latent = noise_size * (steps if noise == "each" else 1)
        self.project = nn.Sequential(nn.Linear(noise_size, noise_size),
                                     *([nn.BatchNorm1d(noise_size)] if batch_norm else []), nn.Tanh())
        # The decoder: DCGAN's generator of the code [projected z_t, h_c], less its output tanh.
        self.decoder = DCGAN(size, 2 * noise_size, width, batch_norm).net[:-1]
        self.encoder = nn.Sequential(strided_layers(size, width, "batch" if batch_norm else "none", noise_size),
                                     nn.Tanh())

    @classmethod
    def from_params(cls, params: Any) -> GRAN:
        g = params.model.gran
        return cls(size=params.clip.patch, noise_size=g.latent, steps=g.steps, noise=g.noise, width=g.width,
                   batch_norm=g.batch_norm)

    def config(self) -> dict:
        return {"size": self.size, "noise_size": self.noise_size, "steps": self.steps, "noise": self.noise,
                "width": self.width, "batch_norm": self.batch_norm}

    def step_noise(self, z: torch.Tensor) -> list[torch.Tensor]:
        """Each step's noise ``z_t`` ``(B, noise_size)`` of latents ``(B, latent)``: its chunks in
        order (``each``), or the one latent at every step (``once``)."""
        if z.dim() != 2 or z.shape[1] != self.latent:
            raise ValueError(f"z must be (B, {self.latent}), got {tuple(z.shape)}")
        return list(z.split(self.noise_size, dim=1)) if self.noise == "each" else [z] * self.steps

    def drawing(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The steps' writes ``Delta C_t`` ``(B, 3, size, size)``, t = 1..T, unsquashed: the canvas
        is their sum."""
        h = z.new_zeros(len(z), self.noise_size)  # h_{c,1} = 0
        writes = []
        for z_t in self.step_noise(z):
            code = torch.cat([self.project(z_t), h], dim=1)[:, :, None, None]
            writes.append(self.decoder(code))
            h = self.encoder(writes[-1])  # g reads this step's output into the next step's code
        return writes

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, latent)`` -> ``(B, 3, size, size)`` in [-1, 1]: tanh of the canvas, the sum of the
        steps' writes."""
        if labels is not None:
            raise ValueError("a GRAN generator takes no class labels")
        return torch.tanh(torch.stack(self.drawing(z)).sum(dim=0))

    @torch.no_grad()
    def canvases(self, z: torch.Tensor) -> torch.Tensor | None:
        """The image after each step, ``tanh`` of the canvas so far: ``(T, B, 3, size, size)`` in
        [-1, 1] (the last is the generator's image)."""
        return torch.tanh(torch.stack(self.drawing(z)).cumsum(dim=0))


class GRANDiscriminator(DCGANDiscriminator):
    """DCGAN's discriminator (:class:`~.dcgan.DCGANDiscriminator`) at GRAN's width and normalisation."""

    @classmethod
    def from_params(cls, params: Any, **conditioning) -> GRANDiscriminator:
        g = params.model.gran
        return cls(size=params.clip.patch, width=g.width, norm=discriminator_norm(params, g))


__all__ = ["GRAN", "GRANDiscriminator", "NOISE"]
