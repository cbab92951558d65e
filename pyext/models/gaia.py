"""GAIA (Sainburg et al. 2018, arXiv 1807.06650), the ``gaia`` family: an autoencoder generator
whose codes are interpolated, judged by an autoencoder discriminator (losses:
:mod:`pyext.losses.gaia`; training: :mod:`pyext.training.steps.gaia`).

Both networks are the same residual convolutional autoencoder, sized for square patches: a 3x3
convolution to ``c = 64 * width`` maps, then per level a residual block and a pyramid step down
(:func:`pyext.pyr_down`) with a 3x3 convolution doubling the maps, down to 4x4, a residual block and
a linear code layer (``latent`` values); the decoder mirrors it from a linear layer, halving the
maps per level after each pyramid step up (:func:`pyext.pyr_up`), to a 3x3 convolution and tanh
(pixels in [-1, 1]). The authors' network is a larger style/content (AdaIN) autoencoder for
128x128 images; this one is a deliberate simplification for 32x32 (or 64x64) patches.

A sample is a clip ``(B, T, 3, P, P)`` with its frames stacked on channels (``frames`` = T, so
codes carry motion), or single frames (``frames`` = 1: the paper's image setting).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import ops
from .base import Model, fold, register_family, scaled, unfold
from .blocks import pick_layers, spectral_norm_all, tapped

_MAPS, _SMALLEST = 64, 4  # maps of the first level at width 1; side of the coarsest level


class _Residual(nn.Module):
    """``x + conv(act(conv(act(x))))``, 3x3 convolutions keeping the maps."""

    def __init__(self, maps: int):
        super().__init__()
        self.body = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(maps, maps, 3, padding=1),
                                  nn.LeakyReLU(0.2), nn.Conv2d(maps, maps, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _PyrDown(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.pyr_down(x)


class _PyrUp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.pyr_up(x)


def levels_of(patch: int) -> int:
    """Pyramid steps from a ``patch`` side down to 4 (``patch`` = 4 * 2^k, k >= 1)."""
    if isinstance(patch, bool) or not isinstance(patch, int) or patch < 2 * _SMALLEST or patch & (patch - 1):
        raise ValueError(f"patch must be a power of two >= {2 * _SMALLEST}, got {patch!r}")
    return patch.bit_length() - _SMALLEST.bit_length()


class Autoencoder(nn.Module):
    """``(B, C, P, P)`` -> code ``(B, latent)`` -> ``(B, C, P, P)`` in [-1, 1].

    Args:
        channels: C.
        patch: P, a power of two >= 8.
        latent: the code's size.
        width: multiplies every map count.
    """

    def __init__(self, channels: int, patch: int, latent: int, width: float):
        super().__init__()
        levels, maps = levels_of(patch), scaled(_MAPS, width)
        layers: list[nn.Module] = [nn.Conv2d(channels, maps, 3, padding=1)]
        for level in range(levels):
            layers += [_Residual(maps << level), _PyrDown(), nn.Conv2d(maps << level, maps << level + 1, 3, padding=1)]
        self.deepest = maps << levels
        layers += [_Residual(self.deepest), nn.LeakyReLU(0.2), nn.Flatten()]
        self.encoder = nn.Sequential(*layers, nn.Linear(self.deepest * _SMALLEST ** 2, latent))
        # The hidden layers (GAIA.hidden): the encoder's convolutions, one per resolution and the first.
        self.taps = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Conv2d)]
        layers = [_Residual(self.deepest)]
        for level in reversed(range(levels)):
            layers += [_PyrUp(), nn.Conv2d(maps << level + 1, maps << level, 3, padding=1), _Residual(maps << level)]
        layers += [nn.LeakyReLU(0.2), nn.Conv2d(maps, channels, 3, padding=1), nn.Tanh()]
        self.from_code = nn.Linear(latent, self.deepest * _SMALLEST ** 2)
        self.decoder = nn.Sequential(*layers)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.from_code(z).view(-1, self.deepest, _SMALLEST, _SMALLEST))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


@register_family("gaia")
class GAIA(Model):
    """GAIA's two autoencoders on clips ``(B, T, 3, P, P)`` (see the module docstring).

    Args:
        frames: T, the frames of a sample.
        patch: P.
        latent: the code's size.
        width: multiplies every map count of both networks.
        d_norm: ``none`` or ``spectral`` (every convolution and linear layer of the discriminator
            spectrally normalised; ``model.d_norm``).
    """

    trains = "autoencoders"

    def __init__(self, frames: int = 5, patch: int = 32, latent: int = 128, width: float = 0.5, d_norm: str = "none"):
        super().__init__()
        for name, value in (("frames", frames), ("latent", latent)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if d_norm not in ("none", "spectral"):
            raise ValueError(f"d_norm must be none or spectral, got {d_norm!r}")
        self.frames, self.patch, self.latent, self.width, self.d_norm = frames, patch, latent, width, d_norm
        self.generator = Autoencoder(3 * frames, patch, latent, width)
        self.discriminator = Autoencoder(3 * frames, patch, latent, width)
        if d_norm == "spectral":
            spectral_norm_all(self.discriminator)

    @classmethod
    def from_params(cls, params: Any) -> GAIA:
        g = params.model.gaia
        return cls(frames=params.clip.train_frames if g.frames == "clip" else 1, patch=params.clip.patch,
                   latent=g.latent, width=g.width, d_norm=params.model.d_norm)

    def config(self) -> dict:
        """The constructor's arguments (files written before ``d_norm`` existed load with its default)."""
        return {"frames": self.frames, "patch": self.patch, "latent": self.latent, "width": self.width,
                "d_norm": self.d_norm}

    def samples(self, clips: torch.Tensor) -> torch.Tensor:
        """Training clips ``(B, T', 3, P, P)`` as this model's samples ``(B', T, 3, P, P)``: the
        clips themselves (``T' = T``), or with ``frames`` = 1 every frame its own sample."""
        if clips.dim() != 5 or clips.shape[2] != 3 or clips.shape[-2:] != (self.patch, self.patch):
            raise ValueError(f"clips must be (B, T, 3, {self.patch}, {self.patch}), got {tuple(clips.shape)}")
        if self.frames == 1:
            return clips.flatten(0, 1)[:, None]
        if clips.shape[1] != self.frames:
            raise ValueError(f"clips must have {self.frames} frames, got {clips.shape[1]}")
        return clips

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Samples ``(B, T, 3, P, P)`` -> codes ``(B, latent)``."""
        return self.generator.encode(fold(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, latent)`` -> samples ``(B, T, 3, P, P)``."""
        return unfold(self.generator.decode(z), self.frames)

    def mix(self, a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
        """The samples decoded from codes ``a + t (b - a)`` (codes ``(B, latent)``; t = 0 gives a's
        decoding, 1 b's, others interpolate or extrapolate)."""
        return self.decode(a + t * (b - a))

    def judge(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's reconstruction of samples ``(B, T, 3, P, P)``."""
        return unfold(self.discriminator(fold(x)), self.frames)

    def hidden_counts(self) -> list[int]:
        """The discriminator encoder's hidden layers (one "scale")."""
        return [len(self.discriminator.taps)]

    def hidden(self, x: torch.Tensor, condition: None, layers) -> list[torch.Tensor]:
        """The discriminator encoder's feature maps of the chosen layers (1-based, or negative from
        the last) for samples ``x`` ``(B, T, 3, P, P)`` (judged given nothing: ``condition`` is
        None): its learned similarity (VAE-GAN)."""
        net = self.discriminator
        chosen = pick_layers(len(net.taps), layers, "GAIA's discriminator")
        return tapped(net.encoder, fold(x), [net.taps[i] for i in chosen])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The generator's reconstruction of samples ``(B, T, 3, P, P)``."""
        return self.decode(self.encode(x))
