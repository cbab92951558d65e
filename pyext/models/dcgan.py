"""DCGAN (Radford, Metz & Chintala 2016, arXiv 1511.06434), the ``dcgan`` family: a generator of
images from noise and its discriminator, laid out by the paper's guidelines (its section 3):

- no pooling: the discriminator halves the side with strided convolutions, the generator doubles it
  with fractionally strided ones (``ConvTranspose2d``, 4x4 kernels, stride 2, as the paper's
  Figure 1 and its code);
- batch norm in both networks, but not at the generator's output layer nor the discriminator's
  input layer (both made the paper's samples oscillate); under an objective whose loss is per image
  (WGAN-GP's gradient penalty, :attr:`pyext.config.Objective.per_clip`) the discriminator takes layer
  norm instead, as Gulrajani et al. (2017, section 4) advise: batch norm makes D's answer for an
  image depend on the rest of its batch, which the penalty's per-image gradient assumes it does not;
- no fully connected hidden layers: z ``(B, latent)`` is projected to a 4x4 map by the first
  fractionally strided convolution, and D's last convolution reduces its 4x4 map to one logit;
- ReLU in the generator with tanh at its output (pixels in [-1, 1]); LeakyReLU of slope 0.2 in the
  discriminator, whose output is a logit (the objectives, :mod:`pyext.losses.adversarial`, take
  logits or scores, not probabilities);
- weights drawn from N(0, 0.02), batch norm's scales from N(1, 0.02) (the paper's section 4).

Sizes: a side of ``size = 4 * 2^L`` (32: L = 3, 64: L = 4) has L stride-2 layers; at side
``size / 2^j`` there are ``64 * 2^(j-1) * width`` maps (the paper's 64x64 generator: 1024 maps at 4x4,
i.e. width 2 here, 128 maps next to the image).

Training: :mod:`pyext.training.steps.dcgan`; evaluation: :mod:`pyext.evaluation.generation`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..config import DCGAN_SIZES, OBJECTIVES
from .base import NoiseGenerator, register_family, scaled
from .blocks import SplitBatchNorm2d

_MAPS, _SMALLEST = 64, 4  # maps next to the image at width 1; the side of the smallest map
D_NORMS = ("batch", "layer", "none")  # the discriminator's normalisations (discriminator_norm)
_STD = 0.02  # the paper's initial weights' standard deviation


def _levels(size: object) -> int:
    """The stride-2 layers between a ``size`` side and 4x4."""
    if isinstance(size, bool) or size not in DCGAN_SIZES:
        raise ValueError(f"size must be one of {', '.join(map(str, DCGAN_SIZES))}, got {size!r}")
    return size.bit_length() - _SMALLEST.bit_length()


def _maps(size: int, width: float) -> list[int]:
    """The map counts at sides ``size / 2, size / 4, ..., 4``."""
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"width must be a number > 0, got {width!r}")
    return [scaled(_MAPS << j, width) for j in range(_levels(size))]


def init_weights(network: nn.Module) -> nn.Module:
    """The paper's initialisation (section 4), in place: every convolution's weights from
    N(0, 0.02) and its bias 0; batch norm's scales from N(1, 0.02) and shifts 0 (layer norm keeps
    PyTorch's 1 and 0). Returns ``network``."""
    for module in network.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, _STD)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            nn.init.normal_(module.weight, 1.0, _STD)
            nn.init.zeros_(module.bias)
    return network


@register_family("dcgan")
class DCGAN(NoiseGenerator):
    """DCGAN's generator (the module docstring): z ``(B, latent)`` -> images ``(B, 3, size, size)``
    in [-1, 1].

    Args:
        size: the image side, 32 or 64 (``clip.patch``).
        latent: z's size.
        width: multiplies every map count.
        batch_norm: batch norm after every fractionally strided convolution but the last.
    """

    def __init__(self, size: int = 32, latent: int = 100, width: float = 0.5, batch_norm: bool = True):
        super().__init__()
        if isinstance(latent, bool) or not isinstance(latent, int) or latent < 1:
            raise ValueError(f"latent must be an int >= 1, got {latent!r}")
        maps = _maps(size, width)
        self.size, self.latent, self.width, self.batch_norm = size, latent, width, bool(batch_norm)
        layers: list[nn.Module] = []
        # z as a 1x1 map, projected to 4x4 by the first fractionally strided convolution (kernel 4, no padding).
        for c_in, c_out, stride, padding in [(latent, maps[-1], 1, 0), *((a, b, 2, 1) for a, b in
                                                                          zip(maps[:0:-1], maps[-2::-1]))]:
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=not batch_norm),
                       *([nn.BatchNorm2d(c_out)] if batch_norm else []), nn.ReLU()]
        layers += [nn.ConvTranspose2d(maps[0], 3, 4, 2, 1), nn.Tanh()]  # the output layer: no batch norm
        self.net = init_weights(nn.Sequential(*layers))

    @classmethod
    def from_params(cls, params: Any) -> DCGAN:
        d = params.model.dcgan
        return cls(size=params.clip.patch, latent=d.latent, width=d.width, batch_norm=d.batch_norm)

    def config(self) -> dict:
        return {"size": self.size, "latent": self.latent, "width": self.width, "batch_norm": self.batch_norm}

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, latent)`` -> ``(B, 3, size, size)`` in [-1, 1] (``labels``: None, it takes no class)."""
        if labels is not None:
            raise ValueError("a DCGAN generator takes no class labels")
        if z.dim() != 2 or z.shape[1] != self.latent:
            raise ValueError(f"z must be (B, {self.latent}), got {tuple(z.shape)}")
        return self.net(z[:, :, None, None])


def discriminator_norm(params: Any, section: Any = None) -> str:
    """The discriminator's normalisation the params ask for (:data:`D_NORMS`): batch norm where the
    family's ``batch_norm`` (``section``'s; None: ``model.dcgan``) is on, layer norm instead where
    the objective's loss is per image (:attr:`pyext.config.Objective.per_clip`), else none."""
    if not (params.model.dcgan if section is None else section).batch_norm:
        return "none"
    return "layer" if OBJECTIVES[params.loss.adversarial.kind].per_clip else "batch"


def strided_layers(size: int, width: float, norm: str, outputs: int = 1) -> nn.Sequential:
    """DCGAN's discriminator's layers (:class:`DCGANDiscriminator`), initialised: images
    ``(B, 3, size, size)`` -> ``(B, outputs)``, the last convolution reducing the 4x4 map to
    ``outputs`` numbers (D's one logit; an encoder's code)."""
    if norm not in D_NORMS:
        raise ValueError(f"norm must be one of {', '.join(D_NORMS)}, got {norm!r}")
    maps = _maps(size, width)
    layers: list[nn.Module] = [nn.Conv2d(3, maps[0], 4, 2, 1), nn.LeakyReLU(0.2)]  # the input layer: no norm
    for c_in, c_out in zip(maps, maps[1:]):
        layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none"), *_norm(norm, c_out), nn.LeakyReLU(0.2)]
    layers += [nn.Conv2d(maps[-1], outputs, 4, 1, 0), nn.Flatten()]  # 4x4 -> outputs
    return init_weights(nn.Sequential(*layers))


def _norm(kind: str, maps: int) -> list[nn.Module]:
    if kind == "batch":  # real and generated images normalised apart, as the paper's separate forwards do
        return [SplitBatchNorm2d(maps)]
    if kind == "layer":  # over each image's maps and positions, with a scale and shift per map
        return [nn.GroupNorm(1, maps)]
    return []


class DCGANDiscriminator(nn.Module):
    """DCGAN's discriminator (the module docstring): images ``(B, 3, size, size)`` -> logits ``(B, 1)``.

    Called as the objectives call a discriminator (:mod:`pyext.losses.adversarial`): ``D(judged,
    condition)`` with ``judged`` a list of one "scale", the images, and ``condition`` None; it
    answers a list of one ``(B, 1)``.

    Args:
        size: the image side, 32 or 64.
        width: multiplies every map count.
        norm: after every strided convolution but the first (:data:`D_NORMS`): ``batch``
            (:class:`~.blocks.SplitBatchNorm2d`: real and generated images judged in one call are
            normalised apart; :func:`~.blocks.set_batch_groups` sets the group), ``layer`` or ``none``.
    """

    def __init__(self, size: int = 32, width: float = 0.5, norm: str = "batch"):
        super().__init__()
        self.size, self.width, self.norm = size, width, norm
        self.net = strided_layers(size, width, norm)

    @classmethod
    def from_params(cls, params: Any) -> DCGANDiscriminator:
        return cls(size=params.clip.patch, width=params.model.dcgan.width, norm=discriminator_norm(params))

    def forward(self, judged: Sequence[torch.Tensor], condition: torch.Tensor | None = None) -> list[torch.Tensor]:
        """``[images (B, 3, size, size)]`` (judged given nothing) -> ``[logits (B, 1)]``."""
        if condition is not None:
            raise ValueError("a DCGAN discriminator judges images given nothing (condition None)")
        if len(judged) != 1:
            raise ValueError(f"judged must be a list of one tensor of images, got {len(judged)}")
        x = judged[0]
        if x.dim() != 4 or x.shape[1:] != (3, self.size, self.size):
            raise ValueError(f"images must be (B, 3, {self.size}, {self.size}), got {tuple(x.shape)}")
        return [self.net(x)]


__all__ = ["D_NORMS", "DCGAN", "DCGANDiscriminator", "discriminator_norm", "init_weights", "strided_layers"]
