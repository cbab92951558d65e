"""LAPGAN (Denton, Chintala, Szlam & Fergus 2015, arXiv 1506.05751), the ``lapgan`` family: a
Laplacian pyramid of generative adversarial networks, one per level, on the native pyramid ops
(:func:`pyext.laplacian_pyramid`, :func:`pyext.pyr_up`, :func:`pyext.laplacian_reconstruct`).

Levels are numbered as the ops number them, finest first: level ``k`` has side ``size / 2^k``;
level ``L - 1`` (``L = levels``) is the coarsest, at least 8x8 (the paper's CIFAR-10 model starts at
8x8). The paper's section 3:

- the coarsest level is a plain GAN: ``G_{L-1}(z)`` makes the coarse image ``I_{L-1}`` from a noise
  vector, ``D_{L-1}`` judges images of that size;
- every finer level ``k`` is a conditional GAN: ``G_k(z_k, l_k)`` makes the residual (the band of the
  Laplacian pyramid) ``h~_k`` from a noise plane ``z_k`` (the paper's "4th colour plane") and the
  low-pass image ``l_k = pyr_up(I_{k+1})``; ``D_k`` judges a residual given ``l_k``;
- sampling runs coarse to fine, ``I_k = l_k + h~_k`` (eq. 4): the generated images are
  :func:`pyext.laplacian_reconstruct` of the generated pyramid ``[h~_0, ..., h~_{L-2}, I_{L-1}]``;
- the levels are trained independently (eq. 3 per level): ``D_k`` sees the real residual ``h_k``,
  level ``k`` of ``laplacian_pyramid`` of a real image, and ``G_k`` is conditioned on the real
  ``l_k = pyr_up(G_{k+1})`` of the real Gaussian pyramid (:func:`real_levels`).

Networks (the paper's section 4, CIFAR-10; ``width`` multiplies every size): the coarsest ``G`` and
``D`` are fully connected with two hidden ReLU layers of 1200 and 600 units (G's batch-normalised:
:class:`CoarseGenerator`); a finer ``G_k`` is three
convolutions (128 maps, ReLU, 5x5 padded: the side kept; the authors' code has 7x7 in the first two)
with a linear output, the residual; a finer ``D_k`` is two convolutions (128 maps, ReLU, 5x5
unpadded, the second strided) and a linear layer to one logit, and takes ``h + l_k`` (the paper adds
the low-pass image to the residual before D's first layer). The coarsest ``G`` ends in tanh (images
in [-1, 1]); residuals are unbounded. The paper's discriminators use dropout: left out here, so that
D's answer is a function of its input alone (a resumed run repeats it without the dropout draws).

Noise: one standard normal vector ``z (B, latent_total)`` holding every level's noise in the levels'
order: a plane per finer level, finest first, then the coarsest level's ``latent`` entries
(:meth:`LAPGAN.split`), so that :meth:`NoiseGenerator.sample` and the evaluation draw a LAPGAN's noise
as any generator's. The finer levels draw no noise of their own inside :meth:`LAPGAN.forward`, so the
truncation trick (:func:`pyext.models.base.truncated_normal`, ``beyondmse sample --truncation``)
truncates every level's noise, the coarse vector and the planes alike, as BigGAN (which it comes
from) truncates the whole of its hierarchical latent, split into chunks one per resolution, not
the first chunk alone: the sample is drawn nearer the mode at every level.

Training: :mod:`pyext.training.steps.lapgan`; evaluation: :mod:`pyext.evaluation.generation`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .. import ops
from ..config import LAPGAN_COARSEST
from .base import NoiseGenerator, register_family, scaled

_G_UNITS, _D_UNITS, _MAPS = 1200, 600, 128  # the paper's hidden sizes (section 4, CIFAR-10) at width 1
_KERNEL = 5


def level_sides(size: int, levels: int) -> list[int]:
    """The sides of the levels, finest first: ``size / 2^k``.

    Raises:
        ValueError: a level that does not halve, or a coarsest level under 8x8.
    """
    for name, value in (("size", size), ("levels", levels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    step = 2 ** (levels - 1)
    if size % step or size // step < LAPGAN_COARSEST:
        raise ValueError(f"size must be a multiple of 2^(levels - 1) = {step} of at least {LAPGAN_COARSEST * step} "
                         f"(the coarsest level at least {LAPGAN_COARSEST}x{LAPGAN_COARSEST}), got {size}")
    return [size >> k for k in range(levels)]


class CoarseGenerator(nn.Module):
    """The coarsest level's G: z ``(B, latent)`` -> images ``(B, 3, side, side)`` in [-1, 1].

    Its hidden layers take batch norm, as DCGAN's guidelines put it in a generator: without it this
    fully connected G collapsed to one image on the demo set within 300 steps (the coarse images'
    standard deviation over samples 0.07 against the data's 0.38; with it 0.45)."""

    def __init__(self, side: int, latent: int, width: float):
        super().__init__()
        self.side, units = side, scaled(_G_UNITS, width)
        self.net = nn.Sequential(nn.Linear(latent, units, bias=False), nn.BatchNorm1d(units), nn.ReLU(),
                                 nn.Linear(units, units, bias=False), nn.BatchNorm1d(units), nn.ReLU(),
                                 nn.Linear(units, 3 * side * side), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).unflatten(1, (3, self.side, self.side))


class LevelGenerator(nn.Module):
    """A finer level's G_k: a noise plane ``(B, 1, s, s)`` and the low-pass image ``l_k``
    ``(B, 3, s, s)`` -> the residual ``(B, 3, s, s)``."""

    def __init__(self, width: float):
        super().__init__()
        maps, pad = scaled(_MAPS, width), _KERNEL // 2
        self.net = nn.Sequential(nn.Conv2d(3 + 1, maps, _KERNEL, padding=pad), nn.ReLU(),
                                 nn.Conv2d(maps, maps, _KERNEL, padding=pad), nn.ReLU(),
                                 nn.Conv2d(maps, 3, _KERNEL, padding=pad))
        # The output layer starts at zero: an untrained level adds nothing to the upsampled coarser
        # image (real residuals are small), where random weights would add noise of the image's scale.
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, noise: torch.Tensor, low_pass: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([low_pass, noise], dim=1))


@register_family("lapgan")
class LAPGAN(NoiseGenerator):
    """LAPGAN's generators (the module docstring): z ``(B, latent_total)`` -> images
    ``(B, 3, size, size)`` in [-1, 1].

    Args:
        size: the image side (``clip.patch``).
        levels: pyramid levels; the coarsest, ``size / 2^(levels-1)``, at least 8.
        latent: the coarsest level's noise vector's size (the paper's 100).
        width: multiplies every layer's size.

    Attributes:
        generators: ``G_k`` per level, finest first (the last: :class:`CoarseGenerator`).
        latent: the size of the whole noise z: ``latent`` + the finer levels' planes.

    Example:
        >>> g = LAPGAN(size=32, levels=3, latent=10, width=0.125)
        >>> g.latent, g.sample(2).shape
        (1290, torch.Size([2, 3, 32, 32]))
    """

    def __init__(self, size: int = 32, levels: int = 3, latent: int = 100, width: float = 0.5):
        super().__init__()
        if isinstance(latent, bool) or not isinstance(latent, int) or latent < 1:
            raise ValueError(f"latent must be an int >= 1, got {latent!r}")
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
            raise ValueError(f"width must be a number > 0, got {width!r}")
        self.sides = level_sides(size, levels)
        self.size, self.levels, self.coarse_latent, self.width = size, levels, latent, width
        self.latent = latent + sum(s * s for s in self.sides[:-1])
        self.generators = nn.ModuleList([*(LevelGenerator(width) for _ in self.sides[:-1]),
                                         CoarseGenerator(self.sides[-1], latent, width)])

    @classmethod
    def from_params(cls, params: Any) -> LAPGAN:
        d = params.model.lapgan
        return cls(size=params.clip.patch, levels=d.levels, latent=d.latent, width=d.width)

    def config(self) -> dict:
        return {"size": self.size, "levels": self.levels, "latent": self.coarse_latent, "width": self.width}

    def split(self, z: torch.Tensor) -> list[torch.Tensor]:
        """z ``(B, latent_total)`` -> each level's noise, finest first: a plane ``(B, 1, s_k, s_k)``
        per finer level, the coarsest level's vector ``(B, latent)`` last."""
        if z.dim() != 2 or z.shape[1] != self.latent:
            raise ValueError(f"z must be (B, {self.latent}), got {tuple(z.shape)}")
        parts = z.split([s * s for s in self.sides[:-1]] + [self.coarse_latent], dim=1)
        return [p.unflatten(1, (1, s, s)) for p, s in zip(parts, self.sides[:-1])] + [parts[-1]]

    def generate(self, z: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Coarse to fine (eq. 4): the generated pyramid ``[h~_0, ..., h~_{L-2}, I_{L-1}]`` (finest
        first, as :func:`pyext.laplacian_pyramid` orders one; residuals ``(B, 3, s_k, s_k)``) and the
        image ``I_0 = l_0 + h~_0`` ``(B, 3, size, size)``, unclamped."""
        noise = self.split(z)
        image = self.generators[-1](noise[-1])
        bands = [image]
        for k in reversed(range(self.levels - 1)):
            low_pass = ops.pyr_up(image)
            residual = self.generators[k](noise[k], low_pass)
            image = low_pass + residual
            bands.insert(0, residual)
        return bands, image

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, latent_total)`` -> ``(B, 3, size, size)`` clamped to [-1, 1] (``labels``: None)."""
        if labels is not None:
            raise ValueError("a LAPGAN generator takes no class labels")
        return self.generate(z)[1].clamp(-1, 1)


def real_levels(images: torch.Tensor, levels: int) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """What each level trains on, from real images ``(B, 3, S, S)``, finest first: ``(h_k, l_k)``,
    the target residual (level ``k`` of :func:`pyext.laplacian_pyramid`) and its conditioning
    ``pyr_up`` of the real Gaussian level ``k + 1`` ``(B, 3, s_k, s_k)``; the coarsest level's
    ``(G_{L-1}, None)``, the coarse image itself, judged given nothing."""
    bands = ops.laplacian_pyramid(images, levels)
    gauss = ops.gaussian_pyramid(images, levels)
    low_passes = [ops.pyr_up(coarse, band.shape[-2:]) for coarse, band in zip(gauss[1:], bands)]
    return list(zip(bands, [*low_passes, None]))


class CoarseDiscriminator(nn.Module):
    """The coarsest level's D: ``[images (B, 3, s, s)]`` (given nothing) -> ``[logits (B, 1)]``."""

    def __init__(self, side: int, width: float):
        super().__init__()
        units = scaled(_D_UNITS, width)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * side * side, units), nn.ReLU(),
                                 nn.Linear(units, units), nn.ReLU(), nn.Linear(units, 1))

    def forward(self, judged: Sequence[torch.Tensor], condition: torch.Tensor | None = None) -> list[torch.Tensor]:
        if condition is not None or len(judged) != 1:
            raise ValueError("the coarsest LAPGAN discriminator judges a list of one tensor of images given nothing")
        return [self.net(judged[0])]


class LevelDiscriminator(nn.Module):
    """A finer level's D_k: ``[residuals (B, 3, s, s)]`` given the low-pass images ``l_k``
    ``(B, 3, s, s)`` -> ``[logits (B, 1)]``; it sees ``h + l_k`` (the module docstring)."""

    def __init__(self, side: int, width: float):
        super().__init__()
        maps = scaled(_MAPS, width)
        left = (side - _KERNEL + 1 - _KERNEL) // 2 + 1  # after the unpadded convolution and the strided one
        self.net = nn.Sequential(nn.Conv2d(3, maps, _KERNEL), nn.ReLU(), nn.Conv2d(maps, maps, _KERNEL, stride=2),
                                 nn.ReLU(), nn.Flatten(), nn.Linear(maps * left * left, 1))

    def forward(self, judged: Sequence[torch.Tensor], condition: torch.Tensor | None = None) -> list[torch.Tensor]:
        if condition is None or len(judged) != 1:
            raise ValueError("a LAPGAN level's discriminator judges a list of one tensor of residuals given the "
                             "low-pass images")
        return [self.net(judged[0] + condition)]


class LAPGANDiscriminators(nn.ModuleList):
    """``D_k`` per level, finest first (the last: :class:`CoarseDiscriminator`), each called as the
    objectives call a discriminator (:mod:`pyext.losses.adversarial`)."""

    def __init__(self, size: int = 32, levels: int = 3, width: float = 0.5):
        sides = level_sides(size, levels)
        super().__init__([*(LevelDiscriminator(s, width) for s in sides[:-1]), CoarseDiscriminator(sides[-1], width)])

    @classmethod
    def from_params(cls, params: Any) -> LAPGANDiscriminators:
        d = params.model.lapgan
        return cls(size=params.clip.patch, levels=d.levels, width=d.width)


__all__ = ["LAPGAN", "CoarseDiscriminator", "CoarseGenerator", "LAPGANDiscriminators", "LevelDiscriminator",
           "LevelGenerator", "level_sides", "real_levels"]
