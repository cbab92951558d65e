"""The autoencoder discriminator of the energy-based objectives (EBGAN: Zhao, Mathieu & LeCun 2017;
BEGAN: Berthelot, Schumm & Metz 2017): per scale, an encoder-decoder that reconstructs the judged
frames given the input frames. The objective turns the reconstruction error into an energy (low:
"real").

It judges the same pyramid as Table 1's discriminator (its scales and patch follow the generator's
``model.multiscale`` section and ``clip.patch``), so an objective swaps one for the other. Per scale
of side s: the encoder sees the input and judged frames folded into channels (3(m + n)), a 3x3
convolution to ``c = 64 * width`` maps, then stride-2 3x3 convolutions doubling the maps down to
4x4 (or s, where s < 4), then a linear layer to a code of ``128 * width`` values; the decoder maps
the code back to ``c`` maps at that size and up by nearest-neighbour upsampling and 3x3
convolutions (BEGAN's decoder) to the judged frames (3n channels). ELU activations, as BEGAN's.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import fold, register_discriminator, scaled, unfold
from .blocks import spectral_norm_all, tapped
from .multiscale import PyramidDiscriminator

_MAPS, _CODE, _SMALLEST = 64, 128, 4  # maps after the first convolution and code size at width 1; coarsest side


class _ScaleAutoencoder(nn.Module):
    """One scale: ``(B, 3(m + n), s, s)`` -> the reconstructed judged frames ``(B, 3n, s, s)`` and
    the code ``(B, code)``."""

    def __init__(self, c_in: int, c_out: int, size: int, maps: int, code: int):
        super().__init__()
        smallest, downs = min(size, _SMALLEST), 0
        while size >> downs > smallest:
            downs += 1
        self.base, self.maps = size >> downs, maps
        layers: list[nn.Module] = [nn.Conv2d(c_in, maps, 3, padding=1), nn.ELU()]
        c = maps
        for _ in range(downs):
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ELU()]
            c *= 2
        self.encoder = nn.Sequential(*layers)
        # The hidden layers (PyramidDiscriminator.hidden): each encoder convolution after its ELU.
        self.taps = [i for i, layer in enumerate(layers) if isinstance(layer, nn.ELU)]
        self.to_code = nn.Linear(c * self.base ** 2, code)
        self.from_code = nn.Linear(code, maps * self.base ** 2)
        up: list[nn.Module] = []
        for _ in range(downs):
            up += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(maps, maps, 3, padding=1), nn.ELU()]
        up.append(nn.Conv2d(maps, c_out, 3, padding=1))
        self.decoder = nn.Sequential(*up)

    def hidden(self, x: torch.Tensor, layers) -> list[torch.Tensor]:
        """The outputs of hidden layers (0-based positions among :attr:`taps`) on ``x``."""
        return tapped(self.encoder, x, [self.taps[i] for i in layers])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.to_code(self.encoder(x).flatten(1))
        h = self.from_code(code).view(-1, self.maps, self.base, self.base)
        return self.decoder(h), code


@register_discriminator("autoencoder")
class AutoencoderDiscriminator(PyramidDiscriminator):
    """Per scale, the judged frames reconstructed from themselves and the input frames.

    Args:
        input_frames, output_frames, scales, width: as for the multi-scale generator (``width``
            multiplies the maps and the code size).
        patch: side of the square training patches (``clip.patch``).
        norm: ``none`` or ``spectral`` (every convolution and linear layer spectrally normalised;
            ``model.d_norm``); it has no batch norm.
    """

    def __init__(self, input_frames: int = 4, output_frames: int = 1, scales: int = 4, width: float = 1.0,
                 patch: int = 32, norm: str = "none"):
        super().__init__(input_frames, output_frames, scales, width, patch)
        if norm not in ("none", "spectral"):
            raise ValueError(f"norm must be none or spectral, got {norm!r}")
        c_in, c_out = 3 * (input_frames + output_frames), 3 * output_frames
        self.nets = nn.ModuleList(
            _ScaleAutoencoder(c_in, c_out, patch // 2 ** (scales - 1 - k), scaled(_MAPS, width), scaled(_CODE, width))
            for k in range(scales))
        if norm == "spectral":
            spectral_norm_all(self)

    @classmethod
    def knobs(cls, params) -> dict:
        return {"norm": params.model.d_norm}

    def forward(self, ys, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Reconstructions of the judged frames ``ys`` given the input frames ``x``, per scale:
        ``D(judged, condition)``.

        Args:
            ys: the judged frames: a list per scale, coarsest first, or one full-size tensor
                ``(B, n, 3, P, P)`` (turned into the pyramid).
            x: input frames ``(B, m, 3, P, P)`` at full size (P = ``patch``).
        Returns:
            per scale, coarsest first, ``(reconstruction (B, n, 3, p_k, p_k), code (B, c))``.
        """
        xs, ys = self.pyramids(ys, x)
        out = []
        for net, x_k, y_k in zip(self.nets, xs, ys):
            recon, code = net(torch.cat([fold(x_k), fold(y_k)], dim=1))
            out.append((unfold(recon, self.output_frames), code))
        return out
