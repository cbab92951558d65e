"""DeePSiM's inversion of a fixed network (Dosovitskiy & Brox 2016, ``model.family: inversion``).

A fixed network's layers (:class:`FixedNetwork`: a TorchScript file, frames in [0, 1] -> a list of
layers' outputs; the project's ``inverted.pt``, :mod:`pyext.evaluation.extractor`) give the features
``phi(x)`` of an image at one layer, and the comparator's ``C(x)`` at another; neither is ever
trained. The :class:`Inverter` decodes ``phi(x)`` back to the image: a vector is taken as a 1x1 map,
a map of side ``s < 4`` is projected to 4x4 (a fractionally strided convolution), then DCGAN's
generator layout doubles the side to ``clip.patch`` (fractionally strided convolutions of kernel 4,
batch norm, ReLU; tanh out), its maps DCGAN's at each side. A 3x3 convolution first reads the
layer's maps at their own side. The discriminator is DCGAN's (:class:`~.dcgan.DCGANDiscriminator`),
judging images alone.

An inverter is neither a predictor (it predicts no frames) nor a generator from noise (nothing is
sampled: its input is a real image's features): a :class:`~.base.Model` of its own kind, whose
:meth:`Inverter.invert` rebuilds images ``G(phi(x))``.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import BUILTIN
from .base import Model, register_family, scaled
from .dcgan import _MAPS, DCGANDiscriminator, discriminator_norm, init_weights

__all__ = ["FixedNetwork", "Inverter", "InversionDiscriminator", "network_file"]


def network_file(network: str) -> Path:
    """The fixed network's file of ``model.inversion.network`` (``builtin``: the shipped ``inverted.pt``)."""
    if network == BUILTIN:
        from ..evaluation.extractor import EXTRACTOR_DIR
        return EXTRACTOR_DIR / "inverted.pt"
    return Path(network)


class FixedNetwork(nn.Module):
    """A fixed network's layers, never trained: images ``(B, 3, H, W)`` in [-1, 1] -> its layers'
    outputs (the file takes [0, 1] frames), each a map ``(B, c, s, s)`` or a vector ``(B, d)``.
    It stays in eval mode (its batch norms keep their statistics) and its weights take no gradient.

    Raises:
        ValueError: no such file, or not a TorchScript module answering a list of tensors.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        path = Path(path)
        if not path.is_file():
            hint = " (python -m pyext.evaluation.extractor --inverted writes it)" if path.name == "inverted.pt" else ""
            raise ValueError(f"model.inversion.network: no such file: {path}{hint}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.net = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # noqa: BLE001 -- any unreadable file is one line
            raise ValueError(f"model.inversion.network: {path} is not a TorchScript file: "
                             f"{str(exc).splitlines()[0]}") from None
        self.net.eval()
        for weight in self.net.parameters():
            weight.requires_grad_(False)
        self.digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()

    def train(self, mode: bool = True) -> FixedNetwork:
        return super().train(False)  # fixed: its batch norms never learn the batch's statistics

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = self.net((x + 1) / 2)
        return [out] if isinstance(out, torch.Tensor) else list(out)

    def layer(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Layer ``k`` (1-based) of images ``x``."""
        return self.forward(x)[k - 1]


def _decoder(shape: tuple[int, ...], size: int, width: float, batch_norm: bool) -> nn.Sequential:
    """G: a layer's output of ``shape`` (``(c,)`` or ``(c, s, s)``) -> ``(B, 3, size, size)`` in [-1, 1]."""
    c, side = (shape[0], 1) if len(shape) == 1 else (shape[0], shape[-1])
    if len(shape) == 3 and shape[1] != shape[2] or size % side or (size // side) & (size // side - 1):
        raise ValueError(f"model.inversion.layer: a layer of {tuple(shape)} cannot be decoded to {size}x{size} "
                         f"(square maps of a side that halves the patch, or vectors)")

    def maps(s: int) -> int:  # DCGAN's map count at side s (64 maps at half the image side, doubling per halving)
        return scaled(_MAPS * max(1, size // 2 // s), width)

    def norm(m: int) -> list[nn.Module]:
        return [nn.BatchNorm2d(m)] if batch_norm else []

    layers: list[nn.Module] = []
    if side < 4:  # a vector (a 1x1 map) or a small map projected to 4x4
        layers += [nn.ConvTranspose2d(c, maps(4), 4, 1 if side == 1 else 2, 0 if side == 1 else 1,
                                      bias=not batch_norm), *norm(maps(4)), nn.ReLU()]
        side, c = 4, maps(4)
    else:
        layers += [nn.Conv2d(c, maps(side), 3, 1, 1, bias=not batch_norm), *norm(maps(side)), nn.ReLU()]
        c = maps(side)
    while side < size // 2:
        layers += [nn.ConvTranspose2d(c, maps(2 * side), 4, 2, 1, bias=not batch_norm), *norm(maps(2 * side)),
                   nn.ReLU()]
        side, c = 2 * side, maps(2 * side)
    if side == size // 2:
        layers += [nn.ConvTranspose2d(c, 3, 4, 2, 1), nn.Tanh()]  # the output layer: no batch norm
    else:  # the layer is at the image's side
        layers += [nn.Conv2d(c, 3, 3, 1, 1), nn.Tanh()]
    return init_weights(nn.Sequential(*layers))


@register_family("inversion")
class Inverter(Model):
    """G of DeePSiM's inversion (the module docstring) with its fixed network: images
    ``(B, 3, size, size)`` in [-1, 1] -> their features ``phi(x)`` at ``layer`` -> ``G(phi(x))``.

    Args:
        network: the fixed network's file (:func:`network_file`).
        layer: its layer inverted (1-based); comparator_layer: the comparator's layer.
        size: the image side, 32 or 64 (``clip.patch``); width, batch_norm: G's (as DCGAN's).
    """

    trains = "a decoder of a fixed network's features (DeePSiM's inversion), which predicts and samples nothing"

    def __init__(self, network: str = BUILTIN, layer: int = 3, comparator_layer: int = 4, size: int = 32,
                 width: float = 0.5, batch_norm: bool = True):
        super().__init__()
        self.network, self.layer, self.comparator_layer = network, layer, comparator_layer
        self.size, self.width, self.batch_norm = size, width, bool(batch_norm)
        self.phi = FixedNetwork(network_file(network))
        with torch.no_grad():
            outputs = self.phi(torch.zeros(1, 3, size, size))
        for key, k in (("layer", layer), ("comparator_layer", comparator_layer)):
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(outputs):
                raise ValueError(f"model.inversion.{key}: expected 1..{len(outputs)} (the layers of {network}), "
                                 f"got {k!r}")
        self.decoder = _decoder(tuple(outputs[layer - 1].shape[1:]), size, width, batch_norm)

    @classmethod
    def from_params(cls, params: Any) -> Inverter:
        v = params.model.inversion
        return cls(network=v.network, layer=v.layer, comparator_layer=v.comparator_layer, size=params.clip.patch,
                   width=v.width, batch_norm=v.batch_norm)

    def config(self) -> dict:
        return {"network": self.network, "layer": self.layer, "comparator_layer": self.comparator_layer,
                "size": self.size, "width": self.width, "batch_norm": self.batch_norm}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``phi(x)``: the fixed network's layer ``layer`` of images ``x`` (no gradient)."""
        with torch.no_grad():
            return self.phi.layer(x, self.layer)

    def compared(self, x: torch.Tensor) -> torch.Tensor:
        """``C(x)``: the comparator's layer of images ``x`` (gradients flow to ``x``, never to C's weights)."""
        return self.phi.layer(x, self.comparator_layer)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``phi(x)`` -> images ``(B, 3, size, size)`` in [-1, 1]."""
        return self.decoder(features if features.dim() == 4 else features[:, :, None, None])

    def invert(self, x: torch.Tensor) -> torch.Tensor:
        """``G(phi(x))`` of images ``x`` ``(B, 3, size, size)`` in [-1, 1]."""
        return self(self.features(x))


class InversionDiscriminator(DCGANDiscriminator):
    """DCGAN's discriminator (:class:`~.dcgan.DCGANDiscriminator`) at the inversion's width and normalisation."""

    @classmethod
    def from_params(cls, params: Any, **conditioning) -> InversionDiscriminator:
        v = params.model.inversion
        return cls(size=params.clip.patch, width=v.width, norm=discriminator_norm(params, v))
