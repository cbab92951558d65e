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

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from . import ops
from .config import SKIPS

MAX_SCALES = 4

# Table 1, finest scale last; a model with S scales uses the S finest (so its finest scale always
# works at the full patch size, and its coarsest at patch / 2^(S-1)).
# Generator: hidden feature maps, then one kernel size per convolution (len(maps) + 1).
_G_LAYOUT = (
    ((128, 256, 128), (3, 3, 3, 3)),
    ((128, 256, 128), (5, 3, 3, 5)),
    ((128, 256, 512, 256, 128), (5, 3, 3, 3, 3, 5)),
    ((128, 256, 512, 256, 128), (7, 5, 5, 5, 5, 7)),
)
# Discriminator: convolution maps, their kernels, max-pool size after them (1: none), hidden FC sizes.
_D_LAYOUT = (
    ((64,), (3,), 1, (512, 256)),
    ((64, 128, 128), (3, 3, 3), 1, (1024, 512)),
    ((128, 256, 256), (5, 5, 5), 1, (1024, 512)),
    ((128, 256, 512, 128), (7, 7, 5, 5), 2, (1024, 512)),
)


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def _check_skip(skip: object) -> None:
    if skip not in SKIPS:
        raise ValueError(f"skip must be one of {', '.join(SKIPS)}, got {skip!r}")


def _check_sizes(input_frames: int, output_frames: int, scales: int, width: float) -> None:
    for name, value in (("input_frames", input_frames), ("output_frames", output_frames)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if isinstance(scales, bool) or not isinstance(scales, int) or not 1 <= scales <= MAX_SCALES:
        raise ValueError(f"scales must be an int in 1..{MAX_SCALES}, got {scales!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"width must be a number > 0, got {width!r}")


def _fold(clip: torch.Tensor) -> torch.Tensor:
    """``(B, T, 3, H, W)`` -> ``(B, 3T, H, W)``."""
    return clip.flatten(1, 2)


def _unfold(x: torch.Tensor, frames: int) -> torch.Tensor:
    """``(B, 3T, H, W)`` -> ``(B, T, 3, H, W)``."""
    return x.unflatten(1, (frames, x.shape[1] // frames))


def clip_pyramid(clip: torch.Tensor, scales: int) -> list[torch.Tensor]:
    """Gaussian pyramid of a clip ``(B, T, 3, H, W)``, coarsest first: ``scales`` clips, scale k of
    size ``H / 2^(scales - k)``."""
    return ops.gaussian_pyramid(clip, scales)[::-1]


def _check_clip(clip: object, name: str, frames: int, scales: int) -> None:
    if not isinstance(clip, torch.Tensor) or clip.dim() != 5 or clip.shape[1] != frames or clip.shape[2] != 3:
        shape = tuple(clip.shape) if isinstance(clip, torch.Tensor) else type(clip).__name__
        raise ValueError(f"{name} must be a clip (B, {frames}, 3, H, W), got {shape}")
    step = 2 ** (scales - 1)
    if clip.shape[-2] % step or clip.shape[-1] % step:
        raise ValueError(f"{name}: height and width must be multiples of 2^(scales-1) = {step}, "
                         f"got {clip.shape[-2]}x{clip.shape[-1]}")


class _ScaleGenerator(nn.Sequential):
    """G'_k: padded convolutions with ReLU between them, ``(B, c_in, h, w) -> (B, c_out, h, w)``."""

    def __init__(self, c_in: int, c_out: int, maps: Sequence[int], kernels: Sequence[int]):
        channels = [c_in, *maps, c_out]
        layers: list[nn.Module] = []
        for i, k in enumerate(kernels):
            layers.append(nn.Conv2d(channels[i], channels[i + 1], k, padding=k // 2))
            if i < len(kernels) - 1:
                layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class MultiScaleGenerator(nn.Module):
    """The paper's multi-scale generator: ``m`` input frames -> ``n`` predicted frames.

    Args:
        input_frames: m, frames seen (``clip.input_frames``).
        output_frames: n, frames predicted jointly (``clip.output_frames``).
        scales: pyramid levels, 1..4 (``model.scales``; the paper: 4).
        width: multiplies every channel count of Table 1 (``model.width``; the paper: 1.0).
        skip: ``none`` (the paper: ``Y_k = tanh(Z_k)``) or ``last_frame`` (``model.skip``: the
            pyramid is a change to the last input frame; see the module docstring).

    Fully convolutional: any H, W that are multiples of ``2^(scales-1)`` work.
    """

    def __init__(self, input_frames: int = 4, output_frames: int = 1, scales: int = 4, width: float = 1.0,
                 skip: str = "none"):
        super().__init__()
        _check_sizes(input_frames, output_frames, scales, width)
        _check_skip(skip)
        self.input_frames, self.output_frames, self.scales, self.width = input_frames, output_frames, scales, width
        self.skip = skip
        c_x, c_y = 3 * input_frames, 3 * output_frames
        self.nets = nn.ModuleList(
            _ScaleGenerator(c_x + (c_y if k else 0), c_y, [_scaled(c, width) for c in maps], kernels)
            for k, (maps, kernels) in enumerate(_G_LAYOUT[MAX_SCALES - scales:]))

    def config(self) -> dict:
        """The constructor's arguments, as saved beside the weights."""
        return {"input_frames": self.input_frames, "output_frames": self.output_frames, "scales": self.scales,
                "width": self.width, "skip": self.skip}

    def forward_scales(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Predictions at every scale, coarsest first.

        Args:
            x: input frames ``(B, m, 3, H, W)`` in [-1, 1].
        Returns:
            ``scales`` tensors ``(B, n, 3, H / 2^(scales-k), W / 2^(scales-k))``, in (-1, 1) with
            ``skip="none"``; the last frame plus a change with ``skip="last_frame"``.
        """
        _check_clip(x, "x", self.input_frames, self.scales)
        levels = clip_pyramid(x, self.scales)
        preds, z = [], None
        for net, level in zip(self.nets, levels):
            x_k = _fold(level)
            if z is None:
                z = net(x_k)
            else:
                size = x_k.shape[-2:]
                z = ops.pyr_up(z, size) + net(torch.cat([x_k, ops.pyr_up(preds[-1], size)], dim=1))
            if self.skip == "last_frame":
                preds.append(level[:, -1:].expand(-1, self.output_frames, -1, -1, -1).flatten(1, 2) + z)
            else:
                preds.append(torch.tanh(z))
        return [_unfold(y, self.output_frames) for y in preds]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The full-size prediction ``(B, n, 3, H, W)`` in (-1, 1) of inputs ``(B, m, 3, H, W)``."""
        return self.forward_scales(x)[-1]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """Recursive prediction: ``steps`` rounds of predicting ``n`` frames and feeding them back
        as the newest inputs.

        Args:
            x: ``(B, m, 3, H, W)``.
        Returns:
            ``(B, steps * n, 3, H, W)`` in [-1, 1].
        """
        out, window = [], x
        for _ in range(steps):
            y = self(window).clamp(-1, 1)  # what a viewer sees; and inputs stay in the training range
            out.append(y)
            window = torch.cat([window, y], dim=1)[:, -self.input_frames:]
        return torch.cat(out, dim=1)


class _ScaleDiscriminator(nn.Module):
    """D_k: unpadded convolutions with ReLU, an optional max-pool, then fully connected layers down to
    one logit: ``(B, c_in, s, s) -> (B, 1)``."""

    def __init__(self, c_in: int, size: int, maps: Sequence[int], kernels: Sequence[int], pool: int,
                 hidden: Sequence[int], scale: int):
        super().__init__()
        layers: list[nn.Module] = []
        for c_out, k in zip(maps, kernels):
            layers += [nn.Conv2d(c_in, c_out, k), nn.ReLU(inplace=True)]
            c_in, size = c_out, size - (k - 1)
        if pool > 1:
            layers.append(nn.MaxPool2d(pool))
            size //= pool
        if size < 1:
            raise ValueError(f"the discriminator's scale {scale} needs larger patches: its convolutions "
                             f"(kernels {list(kernels)}) leave nothing of its input")
        self.features = nn.Sequential(*layers)
        sizes = [c_in * size * size, *hidden, 1]
        fc: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            fc.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                fc.append(nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(*fc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class MultiScaleDiscriminator(nn.Module):
    """The paper's multi-scale discriminator: one real/generated logit per scale for a clip of
    input frames followed by real or generated frames, so it can use time.

    Args:
        input_frames, output_frames, scales, width: as for :class:`MultiScaleGenerator` (``width``
            multiplies the convolution maps and the hidden FC sizes).
        patch: side of the square training patches (``clip.patch``); it fixes the FC input sizes.
    """

    def __init__(self, input_frames: int = 4, output_frames: int = 1, scales: int = 4, width: float = 1.0,
                 patch: int = 32):
        super().__init__()
        _check_sizes(input_frames, output_frames, scales, width)
        step = 2 ** (scales - 1)
        if isinstance(patch, bool) or not isinstance(patch, int) or patch < step or patch % step:
            raise ValueError(f"patch must be a multiple of 2^(scales-1) = {step}, got {patch!r}")
        self.input_frames, self.output_frames, self.scales, self.patch = input_frames, output_frames, scales, patch
        c_in = 3 * (input_frames + output_frames)
        layout = _D_LAYOUT[MAX_SCALES - scales:]
        self.nets = nn.ModuleList(
            _ScaleDiscriminator(c_in, patch // 2 ** (scales - 1 - k), [_scaled(c, width) for c in maps], kernels,
                                pool, [_scaled(c, width) for c in hidden], k + 1)
            for k, (maps, kernels, pool, hidden) in enumerate(layout))

    def forward(self, x: torch.Tensor, ys: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Logits of the clips ``x`` then ``ys``, per scale.

        Args:
            x: input frames ``(B, m, 3, P, P)`` at full size (P = ``patch``).
            ys: the frames judged: the list :meth:`MultiScaleGenerator.forward_scales` gives
                (coarsest first), or one full-size tensor ``(B, n, 3, P, P)`` (real frames), turned
                into the same pyramid.
        Returns:
            ``scales`` logits ``(B, 1)``, coarsest first; > 0 means "real".
        """
        _check_clip(x, "x", self.input_frames, self.scales)
        if x.shape[-1] != self.patch or x.shape[-2] != self.patch:
            raise ValueError(f"x must be {self.patch}x{self.patch} patches (the discriminator's patch), "
                             f"got {x.shape[-2]}x{x.shape[-1]}")
        if isinstance(ys, torch.Tensor):
            _check_clip(ys, "ys", self.output_frames, self.scales)
            ys = clip_pyramid(ys, self.scales)
        ys = list(ys)
        if len(ys) != self.scales:
            raise ValueError(f"ys must hold {self.scales} scales, got {len(ys)}")
        logits = []
        for k, (net, x_k, y_k) in enumerate(zip(self.nets, clip_pyramid(x, self.scales), ys)):
            if y_k.shape[0] != x_k.shape[0] or y_k.shape[1:] != (self.output_frames, 3, *x_k.shape[-2:]):
                raise ValueError(f"ys[{k}] must be (B, {self.output_frames}, 3, {x_k.shape[-2]}, {x_k.shape[-1]}) "
                                 f"for that scale, got {tuple(y_k.shape)}")
            logits.append(net(torch.cat([_fold(x_k), _fold(y_k)], dim=1)))
        return logits


GENERATOR_FORMAT = 1


def generator_file(generator: MultiScaleGenerator, state_dict: dict[str, torch.Tensor] | None = None) -> dict:
    """What ``models/generator.pt`` holds: plain dicts and tensors (loadable with ``weights_only``):
    the generator's config and ``state_dict`` (None: its current weights)."""
    state = {k: v.detach().cpu() for k, v in (state_dict or generator.state_dict()).items()}
    return {"format": GENERATOR_FORMAT, "config": generator.config(), "state_dict": state}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def load_generator(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> MultiScaleGenerator:
    """A trained generator from ``path`` (``models/generator.pt``), its config restored, in eval mode.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a BeyondMSE generator.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, not a pickle traceback
        raise ValueError(f"{path}: not a readable generator file ({type(exc).__name__}: {_first_line(exc)})") from None
    if not isinstance(saved, dict) or saved.get("format") != GENERATOR_FORMAT or "config" not in saved:
        raise ValueError(f"{path}: not a BeyondMSE generator file (format {GENERATOR_FORMAT})")
    try:
        generator = MultiScaleGenerator(**saved["config"])
        generator.load_state_dict(saved["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # config and weights disagree, or are missing
        raise ValueError(f"{path}: a damaged generator file ({type(exc).__name__}: {_first_line(exc)})") from None
    return generator.eval()

