"""BigGAN's techniques (Brock, Donahue & Simonyan 2019, arXiv 1809.11096) at CPU scale, the ``biggan``
family: a generator of images from noise and its discriminator, laid out as the authors' code lays
out its 32x32 and 64x64 models (ajbrock/BigGAN-PyTorch, ``BigGAN.py``'s ``G_arch`` and ``D_arch``):

- **residual blocks** in both networks: G's up-block is BN, ReLU, 2x nearest upsampling, 3x3
  convolution, BN, ReLU, 3x3 convolution, plus a 1x1-convolved upsampled shortcut; D's down-block is
  (ReLU,) 3x3 convolution, ReLU, 3x3 convolution, 2x2 average pooling, plus a 1x1 shortcut (its first
  block takes the image without the leading ReLU, as the authors' ``preactivation`` flag does);
- **spectral norm** (Miyato et al. 2018) on every convolution, linear layer and D's class embedding,
  in both networks (one power iteration per training forward: PyTorch's
  ``parametrizations.spectral_norm``);
- **class-conditional batch norm** in G: each block's two batch norms take their per-channel gain
  ``1 + W_g y`` and bias ``W_b y`` from a vector ``y``; with **hierarchical latents** ``z`` is split
  into ``blocks + 1`` equal chunks, the first projected to G's 4x4 map and each later one joined to
  the block's ``y``; with classes, ``y`` also holds a **shared class embedding** (one ``nn.Embedding``
  for every block, not spectrally normalised);
- a **projection discriminator** (Miyato & Koyama 2018): ``D(x, y) = w^T h(x) + embed(y)^T h(x)``,
  ``h`` the ReLU'd last block's maps summed over positions; without classes the first term alone;
- orthogonal initialisation of every weight (the authors' ``G_init``/``D_init`` default ``ortho``).

Sizes: ``ch = 64 * width``; at side 32, G has three up-blocks of ``4 ch`` maps from 4x4 and D four
down-blocks of ``4 ch`` maps (the first two halving); at side 64, G's blocks go ``16 ch -> 16, 8, 4,
2 ch`` and D's ``ch, 2, 4, 8, 16 ch``, every one halving. Self-attention (the authors' at 64x64) is
left out: it is the ``model.attention`` option of the multi-scale family.

The exponential moving average of G's weights, its batch-norm statistics (standing statistics) and
the orthogonal regularisation are the training step's (:mod:`pyext.training.steps.biggan`,
:mod:`pyext.losses.biggan`); the truncation trick is the sampling's (:func:`.base.truncated_normal`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

from ..config import DCGAN_SIZES
from .base import NoiseGenerator, register_family, scaled
from .blocks import check_labels

# Per image side, the authors' channel multipliers of ch (BigGAN.py's G_arch, D_arch): G's blocks'
# inputs and outputs, D's blocks' outputs and which of D's blocks halve the side.
G_ARCH = {32: ((4, 4, 4), (4, 4, 4)), 64: ((16, 16, 8, 4), (16, 8, 4, 2))}
D_ARCH = {32: ((4, 4, 4, 4), (True, True, False, False)), 64: ((1, 2, 4, 8, 16), (True,) * 5)}
_BOTTOM = 4  # the side of G's first map
_CH = 64  # ch at width 1 (the authors' G_ch, D_ch)


def spectral(module: nn.Module) -> nn.Module:
    """``module`` orthogonally initialised, then spectrally normalised (its weight divided by an
    estimate of its largest singular value); returned."""
    nn.init.orthogonal_(module.weight)
    return parametrizations.spectral_norm(module)


def _conv(c_in: int, c_out: int, kernel: int) -> nn.Module:
    return spectral(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2))


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose per-channel gain and bias are linear in a conditioning vector ``y``
    ``(B, conditioning)``: ``bn(x) * (1 + W_g y) + W_b y`` (the authors' ``ccbn``; ``W_g``, ``W_b``
    spectrally normalised); with
    ``conditioning`` 0, plain batch norm with a learned affine map."""

    def __init__(self, channels: int, conditioning: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=not conditioning)
        # Without biases, as the authors' (their bn_linear): y = 0 leaves batch norm's plain output.
        self.gain = spectral(nn.Linear(conditioning, channels, bias=False)) if conditioning else None
        self.bias = spectral(nn.Linear(conditioning, channels, bias=False)) if conditioning else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.gain is None:
            return self.bn(x)
        gain, bias = 1 + self.gain(y), self.bias(y)
        return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]


class UpBlock(nn.Module):
    """G's residual block: ``(B, c_in, s, s)`` and ``y`` -> ``(B, c_out, 2s, 2s)`` (the module docstring)."""

    def __init__(self, c_in: int, c_out: int, conditioning: int):
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm(c_in, conditioning), ConditionalBatchNorm(c_out, conditioning)
        self.conv1, self.conv2, self.shortcut = _conv(c_in, c_out, 3), _conv(c_out, c_out, 3), _conv(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DownBlock(nn.Module):
    """D's residual block: ``(B, c_in, s, s)`` -> ``(B, c_out, s', s')``, ``s' = s / 2`` where it
    halves (the module docstring); ``preactivation``: the ReLU before its first convolution."""

    def __init__(self, c_in: int, c_out: int, halves: bool, preactivation: bool):
        super().__init__()
        self.halves, self.preactivation = halves, preactivation
        self.conv1, self.conv2 = _conv(c_in, c_out, 3), _conv(c_out, c_out, 3)
        # The authors' learnable shortcut: wherever the maps or the side change.
        self.shortcut = _conv(c_in, c_out, 1) if c_in != c_out or halves else None

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.halves else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._pool(self.conv2(F.relu(self.conv1(F.relu(x) if self.preactivation else x))))
        if self.shortcut is None:
            return h + x
        # The authors' order: convolve then pool after a preactivation, pool then convolve at the input.
        short = self._pool(self.shortcut(x)) if self.preactivation else self.shortcut(self._pool(x))
        return h + short


def _check_size(size: object, latent: object, hierarchical: bool) -> int:
    """The number of G's up-blocks at ``size``, after checking ``size`` and ``latent``."""
    if isinstance(size, bool) or size not in DCGAN_SIZES:
        raise ValueError(f"size must be one of {', '.join(map(str, DCGAN_SIZES))}, got {size!r}")
    blocks = len(G_ARCH[size][0])
    if isinstance(latent, bool) or not isinstance(latent, int) or latent < 1:
        raise ValueError(f"latent must be an int >= 1, got {latent!r}")
    if hierarchical and latent % (blocks + 1):
        raise ValueError(f"latent must be a multiple of {blocks + 1} (hierarchical: one chunk for the first map and "
                         f"one per block at side {size}), got {latent}")
    return blocks


@register_family("biggan")
class BigGAN(NoiseGenerator):
    """BigGAN's generator (the module docstring): z ``(B, latent)`` (and, conditioned, classes
    ``(B,)``) -> images ``(B, 3, size, size)`` in [-1, 1].

    Args:
        size: the image side, 32 or 64 (``clip.patch``).
        latent: z's size (a multiple of the blocks + 1 where ``hierarchical``).
        width: multiplies every map count (1: ``ch = 64``, the authors' 32x32 model).
        hierarchical: z split into chunks, one for the first map and one per block's batch norms;
            else all of z goes to the first map and the batch norms take the class alone.
        classes, embedding: with ``embedding > 0`` the generator is class-conditioned: a shared
            class embedding of that size joins every block's conditioning vector.
    """

    def __init__(self, size: int = 32, latent: int = 128, width: float = 0.25, hierarchical: bool = True,
                 classes: int = 0, embedding: int = 0):
        super().__init__()
        blocks = _check_size(size, latent, hierarchical)
        for name, value in (("classes", classes), ("embedding", embedding)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if embedding and classes < 1:
            raise ValueError(f"a class-conditioned generator needs classes >= 1, got {classes!r}")
        ch = scaled(_CH, width)
        ins, outs = ([ch * m for m in ms] for ms in G_ARCH[size])
        self.size, self.latent, self.width, self.hierarchical = size, latent, width, bool(hierarchical)
        self.classes, self.embedding = (classes, embedding) if embedding else (0, 0)
        self.chunk = latent // (blocks + 1) if hierarchical else 0  # each block's share of z
        conditioning = self.chunk + self.embedding
        self.shared = nn.Embedding(classes, embedding) if embedding else None
        if self.shared is not None:
            nn.init.orthogonal_(self.shared.weight)
        self.linear = spectral(nn.Linear(latent - blocks * self.chunk, ins[0] * _BOTTOM ** 2))
        self.blocks = nn.ModuleList(UpBlock(a, b, conditioning) for a, b in zip(ins, outs))
        self.output = nn.Sequential(nn.BatchNorm2d(outs[-1]), nn.ReLU(), _conv(outs[-1], 3, 3), nn.Tanh())

    @classmethod
    def from_params(cls, params: Any, **conditioning: int) -> BigGAN:
        """The generator of the params; ``conditioning``: ``classes`` and ``embedding`` (a
        :class:`pyext.losses.conditioning.Condition`'s ``generator``)."""
        b = params.model.biggan
        return cls(size=params.clip.patch, latent=b.latent, width=b.width, hierarchical=b.hierarchical, **conditioning)

    def config(self) -> dict:
        classed = {"classes": self.classes, "embedding": self.embedding} if self.classes else {}
        return {"size": self.size, "latent": self.latent, "width": self.width, "hierarchical": self.hierarchical,
                **classed}

    def exempt(self) -> list[nn.Parameter]:
        """The weights the orthogonal regularisation leaves out: the shared class embedding's (the
        authors' blacklist)."""
        return [] if self.shared is None else list(self.shared.parameters())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, latent)`` (of classes ``labels`` ``(B,)``: needed where conditioned, None where
        not) -> ``(B, 3, size, size)`` in [-1, 1]."""
        if z.dim() != 2 or z.shape[1] != self.latent:
            raise ValueError(f"z must be (B, {self.latent}), got {tuple(z.shape)}")
        if self.shared is None and labels is not None:
            raise ValueError("a BigGAN generator without classes takes no class labels")
        if self.shared is not None and labels is None:
            raise ValueError(f"a class-conditioned BigGAN generator ({self.classes} classes) needs the class of "
                             f"each image: labels ({len(z)},)")
        blocks = len(self.blocks)
        first, chunks = z[:, :self.latent - blocks * self.chunk], [None] * blocks
        if self.chunk:
            chunks = list(z[:, self.latent - blocks * self.chunk:].split(self.chunk, dim=1))
        if self.shared is not None:
            shared = self.shared(check_labels(labels, self.classes, len(z))).to(z.dtype)
            chunks = [shared if c is None else torch.cat([shared, c], dim=1) for c in chunks]
        h = self.linear(first).view(len(z), -1, _BOTTOM, _BOTTOM)
        for block, y in zip(self.blocks, chunks):
            h = block(h, y)
        return self.output(h)


class BigGANDiscriminator(nn.Module):
    """BigGAN's discriminator (the module docstring): images ``(B, 3, size, size)`` (and, with a
    projection, their classes ``(B,)``) -> logits ``(B, 1)``.

    Called as the objectives call a discriminator (:mod:`pyext.losses.adversarial`): ``D(judged,
    condition)`` with ``judged`` a list of one "scale", the images, and ``condition`` None; it
    answers a list of one output. A projection discriminator is called through a conditioning's
    :class:`~pyext.losses.conditioning.Judge`: ``D(judged, None, labels)``.

    Args:
        size: the image side, 32 or 64.
        width: multiplies every map count.
        classes: with ``projection``, the classes its embedding holds.
        projection: the class projection term (Miyato & Koyama 2018).
    """

    def __init__(self, size: int = 32, width: float = 0.25, classes: int = 0, projection: bool = False):
        super().__init__()
        if isinstance(size, bool) or size not in D_ARCH:
            raise ValueError(f"size must be one of {', '.join(map(str, D_ARCH))}, got {size!r}")
        if projection and (isinstance(classes, bool) or not isinstance(classes, int) or classes < 1):
            raise ValueError(f"a projection discriminator needs classes >= 1, got {classes!r}")
        ch = scaled(_CH, width)
        multiples, halving = D_ARCH[size]
        maps = [3, *(ch * m for m in multiples)]
        self.size, self.classes = size, classes if projection else 0
        self.blocks = nn.Sequential(*(DownBlock(a, b, h, preactivation=i > 0)
                                      for i, (a, b, h) in enumerate(zip(maps, maps[1:], halving))))
        self.linear = spectral(nn.Linear(maps[-1], 1))
        self.embed = spectral(nn.Embedding(classes, maps[-1])) if projection else None

    @classmethod
    def from_params(cls, params: Any, **conditioning) -> BigGANDiscriminator:
        """The discriminator of the params; ``conditioning``: ``classes`` and ``projection`` (a
        :class:`pyext.losses.conditioning.Condition`'s ``discriminator``)."""
        return cls(size=params.clip.patch, width=params.model.biggan.width, **conditioning)

    def forward(self, judged: Sequence[torch.Tensor], condition: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        """``[images (B, 3, size, size)]`` (judged given nothing; of classes ``labels`` ``(B,)``
        where D projects them) -> ``[logits (B, 1)]``."""
        if condition is not None:
            raise ValueError("a BigGAN discriminator judges images given nothing (condition None)")
        if len(judged) != 1:
            raise ValueError(f"judged must be a list of one tensor of images, got {len(judged)}")
        x = judged[0]
        if x.dim() != 4 or x.shape[1:] != (3, self.size, self.size):
            raise ValueError(f"images must be (B, 3, {self.size}, {self.size}), got {tuple(x.shape)}")
        if self.embed is None and labels is not None:
            raise ValueError("a BigGAN discriminator without a projection takes no class labels")
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # (B, maps): summed over positions, as the authors'
        out = self.linear(h)
        if self.embed is not None:
            out = out + (self.embed(check_labels(labels, self.classes, len(x))) * h).sum(dim=1, keepdim=True)
        return [out]


__all__ = ["BigGAN", "BigGANDiscriminator", "ConditionalBatchNorm", "DownBlock", "UpBlock", "D_ARCH", "G_ARCH"]
