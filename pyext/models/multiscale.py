"""The multi-scale generator and discriminator of Mathieu, Couprie & LeCun (2016), Table 1.

Clips are ``(B, T, 3, H, W)`` in [-1, 1]; a model folds time into channels (``(B, 3T, H, W)``).
Scales are listed coarsest first, as the paper numbers them: with 4 scales and 32x32 patches,
scale 1 works at 4x4 and scale 4 at 32x32.

The generator is LAPGAN-style: scale 1 predicts from the input frames at its size; every finer
scale k sees the input frames at its size and the upsampled coarser prediction and adds a
residual. Each scale ends with tanh, as in the paper, and the residual is added before it::

    Z_1 = G'_1(X_1),  Z_k = u_k(Z_{k-1}) + G'_k(X_k, u_k(Y_{k-1})),  Y_k = tanh(Z_k)

so every prediction lies in (-1, 1), the residual form holds exactly on the pre-tanh values, and no
clamp cuts a gradient. ``u_k`` is :func:`pyext.pyr_up` and the input scales come from
:func:`pyext.gaussian_pyramid` (the same 5-tap filter both ways).

With ``skip="last_frame"`` (not in the paper) the same residual pyramid is a change to the last
input frame: ``Y_k = L_k + R_k`` with ``L_k`` the last input frame at scale k (repeated for each
output frame), ``R_1 = G'_1(X_1)`` and ``R_k = u_k(R_{k-1}) + G'_k(X_k, u_k(Y_{k-1}))``. It has
nothing to memorise about what a scene looks like, only how it moves: on a small set of real
video the paper's form learns colours and textures of its training patches and paints them into
new scenes (measured in the README). There is no tanh on this form: outputs are the last frame
plus a change, clamped to [-1, 1] only where they are shown or fed back (:meth:`predict`). The
last convolutions keep PyTorch's default initialisation: started at zero (an untrained generator
that copies the last frame) the layers before them get no gradient until they have grown, and
the model measured 0.3 to 1 dB worse on the photo and demo sets.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import ops
from ..config import D_NORMS, MODEL_MAX_SCALES, SKIPS, TABLE1_DISCRIMINATOR
from .base import (
    Predictor,
    check_clip,
    check_patch,
    check_sizes,
    clip_pyramid,
    fold,
    judged_pyramid,
    register_discriminator,
    register_family,
    scaled,
    unfold,
)
from .blocks import ClassChannels, SelfAttention, SplitBatchNorm2d, pick_layers, spectral_norm_all, tapped

MAX_SCALES = MODEL_MAX_SCALES
# The generator's attention blocks are at the scales of at most a quarter of the full size: on a
# 240x320 test frame the finest scale's attention matrix would hold 76800^2 floats (~24 GB), the
# next one's ~1.5 GB, a quarter-size scale's 92 MB.
ATTENTION_MIN_FACTOR = 4

# Table 1, finest scale last; a model with S scales uses the S finest (so its finest scale always
# works at the full patch size, and its coarsest at patch / 2^(S-1)).
# Generator: hidden feature maps, then one kernel size per convolution (len(maps) + 1).
_G_LAYOUT = (
    ((128, 256, 128), (3, 3, 3, 3)),
    ((128, 256, 128), (5, 3, 3, 5)),
    ((128, 256, 512, 256, 128), (5, 3, 3, 3, 3, 5)),
    ((128, 256, 512, 256, 128), (7, 5, 5, 5, 5, 7)),
)
# Discriminator: pyext.config.TABLE1_DISCRIMINATOR (the validation reads the sizes it takes).
_D_LAYOUT = TABLE1_DISCRIMINATOR


def _check_skip(skip: object) -> None:
    if skip not in SKIPS:
        raise ValueError(f"skip must be one of {', '.join(SKIPS)}, got {skip!r}")


class _ScaleGenerator(nn.Sequential):
    """G'_k: padded convolutions with ReLU between them, ``(B, c_in, h, w) -> (B, c_out, h, w)``;
    with ``attention``, a self-attention block after the widest hidden layer (the middle one)."""

    def __init__(self, c_in: int, c_out: int, maps: Sequence[int], kernels: Sequence[int], attention: bool = False):
        channels = [c_in, *maps, c_out]
        layers: list[nn.Module] = []
        for i, k in enumerate(kernels):
            layers.append(nn.Conv2d(channels[i], channels[i + 1], k, padding=k // 2))
            if i < len(kernels) - 1:
                layers.append(nn.ReLU(inplace=True))
                if attention and i == len(maps) // 2:
                    layers.append(SelfAttention(channels[i + 1]))
        super().__init__(*layers)


@register_family("multiscale")
class MultiScaleGenerator(Predictor):
    """The paper's multi-scale generator: ``m`` input frames -> ``n`` predicted frames.

    Args:
        input_frames: m, frames seen (``clip.input_frames``).
        output_frames: n, frames predicted jointly (``clip.output_frames``).
        scales: pyramid levels, 1..4 (``model.multiscale.scales``; the paper: 4).
        width: multiplies every channel count of Table 1 (``model.multiscale.width``; the paper: 1.0).
        skip: ``none`` (the paper: ``Y_k = tanh(Z_k)``) or ``last_frame`` (``model.multiscale.skip``: the
            pyramid is a change to the last input frame; see the module docstring).
        attention: a self-attention block (SAGAN, ``model.attention``) in the scales of at most a
            quarter of the full size (:data:`ATTENTION_MIN_FACTOR`).
        classes, embedding: with ``embedding > 0`` the generator is class-conditioned (cGAN,
            ``model.condition: concat``): a learned embedding of the clip's class (one of
            ``classes``) is given as ``embedding`` extra input channels at every scale, and
            :meth:`forward` takes the labels.
        noise: the size of a per-clip latent ``z`` (``model.multiscale.noise``; 0: none, the
            paper's final model), broadcast over space as ``noise`` extra input channels at every
            scale, as stochastic video predictors give theirs (per-pixel noise, the paper's trial,
            is known to be ignored by the generator); :meth:`forward` takes ``z`` ``(B, noise)``,
            the latent's mean 0 when it is not given.

    Fully convolutional: any H, W that are multiples of ``2^(scales-1)`` work.
    """

    def __init__(self, input_frames: int = 4, output_frames: int = 1, scales: int = 4, width: float = 1.0,
                 skip: str = "none", attention: bool = False, classes: int = 0, embedding: int = 0, noise: int = 0):
        super().__init__()
        check_sizes(input_frames, output_frames, scales, width, MAX_SCALES)
        _check_skip(skip)
        if isinstance(noise, bool) or not isinstance(noise, int) or noise < 0:
            raise ValueError(f"noise must be an int >= 0, got {noise!r}")
        self.input_frames, self.output_frames, self.scales, self.width = input_frames, output_frames, scales, width
        self.skip, self.attention, self.classes, self.embedding = skip, attention, classes, embedding
        self.noise = noise
        self.class_input = ClassChannels(classes, embedding) if embedding else None
        c_x, c_y = 3 * input_frames + embedding + noise, 3 * output_frames
        self.nets = nn.ModuleList(
            _ScaleGenerator(c_x + (c_y if k else 0), c_y, [scaled(c, width) for c in maps], kernels,
                            attention and 2 ** (scales - 1 - k) >= ATTENTION_MIN_FACTOR)
            for k, (maps, kernels) in enumerate(_G_LAYOUT[MAX_SCALES - scales:]))

    @classmethod
    def from_params(cls, params, **conditioning) -> MultiScaleGenerator:
        """The generator of the params; ``conditioning``: ``classes`` and ``embedding`` (a
        :class:`pyext.losses.conditioning.Condition`'s ``generator``)."""
        clip, family = params.clip, params.model.multiscale
        return cls(clip.input_frames, clip.output_frames, family.scales, family.width, family.skip,
                   params.model.attention, noise=family.noise, **conditioning)

    def config(self) -> dict:
        """The constructor's arguments, as saved beside the weights (files written before
        ``attention``, ``classes`` or ``noise`` existed load with their defaults)."""
        return {"input_frames": self.input_frames, "output_frames": self.output_frames, "scales": self.scales,
                "width": self.width, "skip": self.skip, "attention": self.attention, "classes": self.classes,
                "embedding": self.embedding, "noise": self.noise}

    @property
    def size_multiple(self) -> int:
        return 2 ** (self.scales - 1)

    def forward_scales(self, x: torch.Tensor, labels: torch.Tensor | None = None, z: torch.Tensor | None = None
                       ) -> list[torch.Tensor]:
        """Predictions at every scale, coarsest first.

        Args:
            x: input frames ``(B, m, 3, H, W)`` in [-1, 1].
            labels: the clips' classes ``(B,)``, for a class-conditioned generator (ignored by
                another).
            z: latents ``(B, noise)`` of a generator with noise (ignored by another; None: 0).
        Returns:
            ``scales`` tensors ``(B, n, 3, H / 2^(scales-k), W / 2^(scales-k))``, in (-1, 1) with
            ``skip="none"``; the last frame plus a change with ``skip="last_frame"``.
        """
        check_clip(x, "x", self.input_frames, self.scales)
        latent = self._latent(z, x)
        levels = clip_pyramid(x, self.scales)
        preds, z = [], None
        for net, level in zip(self.nets, levels):
            x_k = fold(level) if self.class_input is None else self.class_input(fold(level), labels)
            if latent is not None:
                x_k = torch.cat([x_k, latent.to(x_k.dtype)[:, :, None, None].expand(-1, -1, *x_k.shape[-2:])], dim=1)
            if z is None:
                z = net(x_k)
            else:
                size = x_k.shape[-2:]
                z = ops.pyr_up(z, size) + net(torch.cat([x_k, ops.pyr_up(preds[-1], size)], dim=1))
            if self.skip == "last_frame":
                preds.append(level[:, -1:].expand(-1, self.output_frames, -1, -1, -1).flatten(1, 2) + z)
            else:
                preds.append(torch.tanh(z))
        return [unfold(y, self.output_frames) for y in preds]

    def _latent(self, z: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
        """The latents ``(B, noise)`` a generator with noise takes (0 where ``z`` is None); None without noise."""
        if not self.noise:
            return None
        if z is None:
            return x.new_zeros(x.shape[0], self.noise)
        if z.shape != (x.shape[0], self.noise):
            raise ValueError(f"z must be (B, noise) = ({x.shape[0]}, {self.noise}), got {tuple(z.shape)}")
        return z

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, z: torch.Tensor | None = None
                ) -> torch.Tensor:
        """The full-size prediction ``(B, n, 3, H, W)`` in (-1, 1) of inputs ``(B, m, 3, H, W)``
        (of classes ``labels`` ``(B,)``, for a class-conditioned generator; of latents ``z``
        ``(B, noise)``, for one with noise)."""
        return self.forward_scales(x, labels, z)[-1]


class _ScaleDiscriminator(nn.Module):
    """D_k: unpadded convolutions with ReLU, an optional max-pool, then fully connected layers down to
    one logit: ``(B, c_in, s, s) -> (B, 1)`` (with a class head, ``outputs = 1 + classes``: the
    logit, then the class logits). With ``norm="batch"`` a batch norm follows every
    convolution but the first (DCGAN); with ``attention`` a self-attention block follows the first
    convolution's activation. Its hidden layers (:meth:`hidden`) are each convolution's output
    after its activation (and the attention block)."""

    def __init__(self, c_in: int, size: int, maps: Sequence[int], kernels: Sequence[int], pool: int,
                 hidden: Sequence[int], scale: int, leak: float = 0.0, norm: str = "none", attention: bool = False,
                 outputs: int = 1):
        super().__init__()

        def act() -> nn.Module:
            return nn.LeakyReLU(leak, inplace=True) if leak else nn.ReLU(inplace=True)

        layers: list[nn.Module] = []
        self.taps: list[int] = []  # positions in self.features of the hidden layers' outputs
        for i, (c_out, k) in enumerate(zip(maps, kernels)):
            layers += [nn.Conv2d(c_in, c_out, k), *([SplitBatchNorm2d(c_out)] if norm == "batch" and i else []),
                       act(), *([SelfAttention(c_out)] if attention and i == 0 else [])]
            self.taps.append(len(layers) - 1)
            c_in, size = c_out, size - (k - 1)
        if pool > 1:
            layers.append(nn.MaxPool2d(pool))
            size //= pool
        if size < 1:
            raise ValueError(f"the discriminator's scale {scale} needs larger patches: its convolutions "
                             f"(kernels {list(kernels)}) leave nothing of its input")
        self.features = nn.Sequential(*layers)
        sizes = [c_in * size * size, *hidden, outputs]
        fc: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            fc.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                fc.append(act())
        self.classifier = nn.Sequential(*fc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))

    def hidden(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """The outputs of hidden layers (0-based positions among :attr:`taps`) on ``x``."""
        return tapped(self.features, x, [self.taps[i] for i in layers])


class PyramidDiscriminator(nn.Module):
    """What the discriminators of the multi-scale generator share: they judge its pyramid of
    ``scales`` levels of ``patch``-sized clips, after the input frames (subclasses build ``nets``,
    one per scale, coarsest first).

    Args:
        input_frames, output_frames, scales, width: as for :class:`MultiScaleGenerator`.
        patch: side of the square training patches (``clip.patch``).
    """

    def __init__(self, input_frames: int, output_frames: int, scales: int, width: float, patch: int):
        super().__init__()
        check_sizes(input_frames, output_frames, scales, width, MAX_SCALES)
        check_patch(patch, scales)
        self.input_frames, self.output_frames, self.scales, self.patch = input_frames, output_frames, scales, patch

    @classmethod
    def from_params(cls, params, **conditioning) -> PyramidDiscriminator:
        """The discriminator of the params; ``conditioning``: the class knobs of a
        :class:`pyext.losses.conditioning.Condition`'s ``discriminator`` (none for most)."""
        clip, family = params.clip, params.model.multiscale
        return cls(clip.input_frames, clip.output_frames, family.scales, family.width, clip.patch,
                   **cls.knobs(params), **conditioning)

    @classmethod
    def knobs(cls, params) -> dict:
        """The constructor's keyword arguments of a subclass's own, from the params."""
        return {}

    def pyramids(self, ys, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The checked pyramids of the input frames and the judged ones (:func:`judged_pyramid`)."""
        return judged_pyramid(x, ys, self.input_frames, self.output_frames, self.scales, self.patch)

    def hidden_counts(self) -> list[int]:
        """The number of hidden layers of each scale's network, coarsest first."""
        return [len(net.taps) for net in self.nets]

    def joined(self, x_k: torch.Tensor, y_k: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """What a scale's network takes: its input and judged frames on channels (a subclass with a
        class input adds the class's)."""
        return torch.cat([fold(x_k), fold(y_k)], dim=1)

    def hidden(self, ys, x: torch.Tensor, layers: Sequence[int], labels: torch.Tensor | None = None
               ) -> list[torch.Tensor]:
        """The feature maps of the chosen hidden layers of every scale's network (1-based, or
        negative from each scale's last) for the judged frames ``ys`` after the input frames ``x``
        (and classes ``labels``, as :meth:`forward` takes them): a flat list, coarsest scale first.

        Raises:
            ValueError: a scale has no such layer.
        """
        xs, ys = self.pyramids(ys, x)
        out = []
        for k, (net, x_k, y_k) in enumerate(zip(self.nets, xs, ys)):
            chosen = pick_layers(len(net.taps), layers, f"the discriminator's scale {k + 1}")
            out += net.hidden(self.joined(x_k, y_k, labels), chosen)
        return out


@register_discriminator("multiscale")
class MultiScaleDiscriminator(PyramidDiscriminator):
    """The paper's multi-scale discriminator: one real/generated logit per scale for a clip of
    input frames followed by real or generated frames, so it can use time.

    Args:
        input_frames, output_frames, scales, width: as for :class:`MultiScaleGenerator` (``width``
            multiplies the convolution maps and the hidden FC sizes).
        patch: side of the square training patches (``clip.patch``); it fixes the FC input sizes.
        leak: the negative slope of the activations (0: the paper's ReLU; LeakyReLU otherwise).
        norm: ``none`` (the paper), ``spectral`` (every convolution and linear layer spectrally
            normalised) or ``batch`` (:class:`~pyext.models.blocks.SplitBatchNorm2d` after every
            convolution but the first) (``model.d_norm``).
        attention: a self-attention block after each scale's first convolution (``model.attention``).
        classes: the number of classes of the conditioned discriminators below.
        embedding: with ``embedding > 0``, cGAN's class input (``model.condition: concat``): a learned
            embedding of the clip's class as that many extra input channels at every scale (an
            embedding of D's own, not the generator's).
        class_head: ACGAN's class head (``model.condition: acgan``): every scale's last layer gives
            ``classes`` class logits after its real/generated logit.
    """

    def __init__(self, input_frames: int = 4, output_frames: int = 1, scales: int = 4, width: float = 1.0,
                 patch: int = 32, leak: float = 0.0, norm: str = "none", attention: bool = False,
                 classes: int = 0, embedding: int = 0, class_head: bool = False):
        super().__init__(input_frames, output_frames, scales, width, patch)
        if norm not in D_NORMS:
            raise ValueError(f"norm must be one of {', '.join(D_NORMS)}, got {norm!r}")
        if (embedding or class_head) and classes < 1:
            raise ValueError(f"a class-conditioned discriminator needs classes >= 1, got {classes!r}")
        self.classes, self.class_head = classes, class_head
        self.class_input = ClassChannels(classes, embedding) if embedding else None
        c_in = 3 * (input_frames + output_frames) + embedding
        layout = _D_LAYOUT[MAX_SCALES - scales:]
        self.nets = nn.ModuleList(
            _ScaleDiscriminator(c_in, patch // 2 ** (scales - 1 - k), [scaled(c, width) for c in maps], kernels,
                                pool, [scaled(c, width) for c in hidden], k + 1, leak, norm, attention,
                                1 + (classes if class_head else 0))
            for k, (maps, kernels, pool, hidden) in enumerate(layout))
        if norm == "spectral":
            spectral_norm_all(self)

    @classmethod
    def knobs(cls, params) -> dict:
        model = params.model
        return {"leak": model.multiscale.d_leak, "norm": model.d_norm, "attention": model.attention}

    def joined(self, x_k, y_k, labels):
        joined = super().joined(x_k, y_k, labels)
        return joined if self.class_input is None else self.class_input(joined, labels)

    def forward(self, ys: torch.Tensor | Sequence[torch.Tensor], x: torch.Tensor,
                labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Logits of the clips ``x`` then ``ys``, per scale: ``D(judged, condition)``, the judged
        frames given the input frames.

        Args:
            ys: the frames judged: the list :meth:`MultiScaleGenerator.forward_scales` gives
                (coarsest first), or one full-size tensor ``(B, n, 3, P, P)`` (real frames), turned
                into the same pyramid.
            x: input frames ``(B, m, 3, P, P)`` at full size (P = ``patch``).
            labels: the clips' classes ``(B,)``, for a discriminator with a class input.
        Returns:
            ``scales`` logits ``(B, 1)``, coarsest first; > 0 means "real". With a class head,
            ``(B, 1 + classes)``: that logit, then the class logits.
        """
        xs, ys = self.pyramids(ys, x)
        return [net(self.joined(x_k, y_k, labels)) for net, x_k, y_k in zip(self.nets, xs, ys)]
