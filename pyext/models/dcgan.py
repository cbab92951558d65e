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

Class conditioning (``model.condition``, :mod:`pyext.losses.conditioning`; on a source whose classes
one frame shows): ``concat`` (cGAN, Mirza & Osindero 2014) gives G a learned class embedding beside z
and D the embedding broadcast over the image as extra input channels
(:class:`~.blocks.ClassChannels`); ``acgan`` (Odena et al. 2017) gives G the same and D a class head
instead: its last convolution gives the class logits after the real/generated logit.

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
from .blocks import ClassChannels, SplitBatchNorm2d

_MAPS, _SMALLEST = 64, 4  # maps next to the image at width 1; the side of the smallest map
D_NORMS = ("batch", "layer", "none")  # the discriminator's normalisations (discriminator_norm)
_STD = 0.02  # the paper's initial weights' standard deviation


def _levels(size: object) -> int:
    """The stride-2 layers between a ``size`` side and 4x4."""
    if isinstance(size, bool) or size not in DCGAN_SIZES:
        raise ValueError(f"size must be one of {', '.join(map(str, DCGAN_SIZES))}, got {size!r}")
    return size.bit_length() - _SMALLEST.bit_length()


def _class_input(classes: int, embedding: int, network: str) -> ClassChannels | None:
    """A conditioned network's class embedding (None where ``embedding`` is 0)."""
    for name, value in (("classes", classes), ("embedding", embedding)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    if embedding and classes < 1:
        raise ValueError(f"a class-conditioned {network} needs classes >= 1, got {classes!r}")
    return ClassChannels(classes, embedding) if embedding else None


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
    """DCGAN's generator (the module docstring): z ``(B, latent)`` (and, conditioned, classes
    ``(B,)``) -> images ``(B, 3, size, size)`` in [-1, 1].

    Args:
        size: the image side, 32 or 64 (``clip.patch``).
        latent: z's size.
        width: multiplies every map count.
        batch_norm: batch norm after every fractionally strided convolution but the last.
        classes, embedding: with ``embedding > 0`` the generator is class-conditioned (cGAN's and
            ACGAN's G): a learned embedding of the class (one of ``classes``) in ``embedding``
            numbers joins z (:class:`~.blocks.ClassChannels` on z as a 1x1 map), and :meth:`forward`
            needs the labels.
    """

    def __init__(self, size: int = 32, latent: int = 100, width: float = 0.5, batch_norm: bool = True,
                 classes: int = 0, embedding: int = 0):
        super().__init__()
        if isinstance(latent, bool) or not isinstance(latent, int) or latent < 1:
            raise ValueError(f"latent must be an int >= 1, got {latent!r}")
        maps = _maps(size, width)
        self.size, self.latent, self.width, self.batch_norm = size, latent, width, bool(batch_norm)
        self.class_input = _class_input(classes, embedding, "generator")
        self.classes, self.embedding = (classes, embedding) if embedding else (0, 0)
        layers: list[nn.Module] = []
        # z (with its class embedding) as a 1x1 map, projected to 4x4 by the first fractionally
        # strided convolution (kernel 4, no padding).
        for c_in, c_out, stride, padding in [(latent + self.embedding, maps[-1], 1, 0), *((a, b, 2, 1) for a, b in
                                                                          zip(maps[:0:-1], maps[-2::-1]))]:
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=not batch_norm),
                       *([nn.BatchNorm2d(c_out)] if batch_norm else []), nn.ReLU()]
        layers += [nn.ConvTranspose2d(maps[0], 3, 4, 2, 1), nn.Tanh()]  # the output layer: no batch norm
        self.net = init_weights(nn.Sequential(*layers))

    @classmethod
    def from_params(cls, params: Any, **conditioning: int) -> DCGAN:
        """The generator of the params; ``conditioning``: ``classes`` and ``embedding`` (a
        :class:`pyext.losses.conditioning.Condition`'s ``generator``)."""
        d = params.model.dcgan
        return cls(size=params.clip.patch, latent=d.latent, width=d.width, batch_norm=d.batch_norm, **conditioning)

    def config(self) -> dict:
        # The class keys only where conditioned: an unconditioned generator's file stays as it was.
        classed = {"classes": self.classes, "embedding": self.embedding} if self.classes else {}
        return {"size": self.size, "latent": self.latent, "width": self.width, "batch_norm": self.batch_norm, **classed}

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, latent)`` (of classes ``labels`` ``(B,)``: needed where conditioned, None where
        not) -> ``(B, 3, size, size)`` in [-1, 1]."""
        if z.dim() != 2 or z.shape[1] != self.latent:
            raise ValueError(f"z must be (B, {self.latent}), got {tuple(z.shape)}")
        if self.class_input is None:
            if labels is not None:
                raise ValueError("a DCGAN generator without classes takes no class labels")
            return self.net(z[:, :, None, None])
        if labels is None:
            raise ValueError(f"a class-conditioned DCGAN generator ({self.classes} classes) needs the class of "
                             f"each image: labels ({len(z)},)")
        return self.net(self.class_input(z[:, :, None, None], labels))


def discriminator_norm(params: Any, section: Any = None) -> str:
    """The discriminator's normalisation the params ask for (:data:`D_NORMS`): batch norm where the
    family's ``batch_norm`` (``section``'s; None: ``model.dcgan``) is on, layer norm instead where
    the objective's loss is per image (:attr:`pyext.config.Objective.per_clip`), else none."""
    if not (params.model.dcgan if section is None else section).batch_norm:
        return "none"
    return "layer" if OBJECTIVES[params.loss.adversarial.kind].per_clip else "batch"


def strided_layers(size: int, width: float, norm: str, outputs: int = 1, channels: int = 3) -> nn.Sequential:
    """DCGAN's discriminator's layers (:class:`DCGANDiscriminator`), initialised: images
    ``(B, channels, size, size)`` (RGB, and a class embedding's channels where D takes one) ->
    ``(B, outputs)``, the last convolution reducing the 4x4 map to ``outputs`` numbers (D's one
    logit, and an ACGAN head's class logits; an encoder's code)."""
    if norm not in D_NORMS:
        raise ValueError(f"norm must be one of {', '.join(D_NORMS)}, got {norm!r}")
    maps = _maps(size, width)
    layers: list[nn.Module] = [nn.Conv2d(channels, maps[0], 4, 2, 1), nn.LeakyReLU(0.2)]  # the input layer: no norm
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
    """DCGAN's discriminator (the module docstring): images ``(B, 3, size, size)`` (and, with a
    class input, their classes ``(B,)``) -> logits ``(B, 1)`` (with a class head ``(B, 1 + classes)``:
    that logit, then the class logits).

    Called as the objectives call a discriminator (:mod:`pyext.losses.adversarial`): ``D(judged,
    condition)`` with ``judged`` a list of one "scale", the images, and ``condition`` None; it
    answers a list of one output. A conditioning's :class:`~pyext.losses.conditioning.Judge`
    adds the labels: ``D(judged, None, labels)``.

    Args:
        size: the image side, 32 or 64.
        width: multiplies every map count.
        norm: after every strided convolution but the first (:data:`D_NORMS`): ``batch``
            (:class:`~.blocks.SplitBatchNorm2d`: real and generated images judged in one call are
            normalised apart; :func:`~.blocks.set_batch_groups` sets the group), ``layer`` or ``none``.
        classes: the number of classes of a conditioned discriminator below.
        embedding: cGAN's class input (``model.condition: concat``): with ``embedding > 0`` a learned
            class embedding of that size broadcast over the image as extra input channels.
        class_head: ACGAN's class head (``model.condition: acgan``): the last convolution gives
            ``classes`` class logits after the real/generated logit.
    """

    def __init__(self, size: int = 32, width: float = 0.5, norm: str = "batch", classes: int = 0,
                 embedding: int = 0, class_head: bool = False):
        super().__init__()
        if class_head and (isinstance(classes, bool) or not isinstance(classes, int) or classes < 1):
            raise ValueError(f"a discriminator with a class head needs classes >= 1, got {classes!r}")
        self.size, self.width, self.norm, self.classes, self.class_head = size, width, norm, classes, class_head
        self.class_input = _class_input(classes, embedding, "discriminator")
        self.net = strided_layers(size, width, norm, 1 + (classes if class_head else 0), 3 + embedding)

    @classmethod
    def from_params(cls, params: Any, **conditioning) -> DCGANDiscriminator:
        """The discriminator of the params; ``conditioning``: ``classes`` and ``embedding`` or
        ``class_head`` (a :class:`pyext.losses.conditioning.Condition`'s ``discriminator``)."""
        return cls(size=params.clip.patch, width=params.model.dcgan.width, norm=discriminator_norm(params),
                   **conditioning)

    def forward(self, judged: Sequence[torch.Tensor], condition: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        """``[images (B, 3, size, size)]`` (judged given nothing; of classes ``labels`` ``(B,)``
        where D has a class input) -> ``[logits (B, 1)]`` (``(B, 1 + classes)`` with a class head)."""
        if condition is not None:
            raise ValueError("a DCGAN discriminator judges images given nothing (condition None)")
        if len(judged) != 1:
            raise ValueError(f"judged must be a list of one tensor of images, got {len(judged)}")
        x = judged[0]
        if x.dim() != 4 or x.shape[1:] != (3, self.size, self.size):
            raise ValueError(f"images must be (B, 3, {self.size}, {self.size}), got {tuple(x.shape)}")
        if self.class_input is None:
            if labels is not None:
                raise ValueError("a DCGAN discriminator without a class input takes no class labels")
            return [self.net(x)]
        return [self.net(self.class_input(x, labels))]


__all__ = ["D_NORMS", "DCGAN", "DCGANDiscriminator", "discriminator_norm", "init_weights", "strided_layers"]
