"""Random transformations of training clips that keep them plausible video (``train.augment``).

A small set of real video gives a few hundred distinct patches; a generator trained on them
learns their colours and textures as well as their motion. Each transformation makes new clips
out of old ones whose motion is as predictable as before:

=========  ================================================================================
flip       mirror left-right (half of the clips)
rotate     rotate by 0, 90, 180 or 270 degrees (square patches; 0 or 180 otherwise)
reverse    play the clip backwards (half of the clips): the motion runs the other way
colour     per clip, scale each channel by a gain in [1 - c, 1 + c] and shift all by an offset in
           [-c/2, c/2] (c = ``colour``), on the [0, 1] scale, clamped: new colours, same motion
=========  ================================================================================

The same transformation applies to every frame of a clip, inputs and targets alike. The draws
for a step come from a generator seeded by ``(seed, step, batch)``, for the whole batch, and each
process of a distributed run takes its rows: a resumed or distributed run sees the same clips as
an uninterrupted single process.

Example:
    >>> clips = torch.rand(8, 5, 3, 16, 16) * 2 - 1
    >>> out = augment_clips(clips, ("flip", "rotate"), colour=0.0, seed=(0, 0, 0))
    >>> out.shape, bool(out.abs().max() <= 1)
    (torch.Size([8, 5, 3, 16, 16]), True)
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from .config import AUGMENTATIONS
from .models.base import seeded_generator


def _where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, *([1] * (a.dim() - 1))), a, b)


def augment_clips(clips: torch.Tensor, kinds: Sequence[str], colour: float, seed: Sequence[int],
                  offset: int = 0, total: int | None = None) -> torch.Tensor:
    """Transforms each clip of a batch at random.

    Args:
        clips: ``(B, T, 3, H, W)`` in [-1, 1].
        kinds: names of :data:`AUGMENTATIONS` to apply (empty: the clips as they are); ``colour``
            in ``kinds`` uses the strength ``colour``.
        colour: c, the colour jitter's strength, in [0, 1).
        seed: non-negative ints that fix the draws (e.g. ``(train.seed, step, batch)``).
        offset, total: the draws are made for a whole batch of ``total`` clips (None: ``B``), and
            ``clips`` are its rows ``offset .. offset + B`` (a process's share of a distributed batch).
    Returns:
        ``(B, T, 3, H, W)`` in [-1, 1], a new tensor (or ``clips`` itself when ``kinds`` is empty).
    """
    unknown = [k for k in kinds if k not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; known: {', '.join(AUGMENTATIONS)}")
    if not kinds:
        return clips
    rows = slice(offset, offset + len(clips))
    total = len(clips) if total is None else total
    gen = seeded_generator(seed)
    # Every draw is made for the whole batch, whichever kinds are on, so that turning one kind on
    # or off does not change the others' draws.
    flip, reverse = (torch.rand(total, generator=gen)[rows] < 0.5 for _ in range(2))
    turns = torch.randint(0, 4, (total,), generator=gen)[rows]
    gains = 1 + colour * (2 * torch.rand(total, 3, generator=gen)[rows] - 1)
    offsets = colour * (torch.rand(total, generator=gen)[rows] - 0.5)
    device = clips.device
    out = clips
    if "flip" in kinds:
        out = _where(flip.to(device), out.flip(-1), out)
    if "rotate" in kinds:
        if out.shape[-1] != out.shape[-2]:
            turns = turns - turns % 2  # half turns only: a quarter turn would change the shape
        for k in (1, 2, 3):
            chosen = turns == k
            if chosen.any():  # each row is turned once: the rows chosen here are still unturned
                out = _where(chosen.to(device), torch.rot90(out, k, dims=(-2, -1)), out)
    if "reverse" in kinds:
        out = _where(reverse.to(device), out.flip(1), out)
    if "colour" in kinds and colour > 0:
        scaled = (out + 1) / 2 * gains.to(device, out.dtype).view(-1, 1, 3, 1, 1)
        scaled = scaled + offsets.to(device, out.dtype).view(-1, 1, 1, 1, 1)
        out = scaled.clamp(0, 1) * 2 - 1
    return out
