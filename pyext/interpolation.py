"""A trained GAIA model's codes mixed between two videos' patches (``beyondmse interpolate``).

From each video, the centre patch (the model's patch square) of its first frames (as many as the
model's samples hold) after downscaling to fit ``max_size``; both are encoded, their codes mixed in
``steps`` steps from A's to B's, and each mixture decoded: one row, A's patch, the decoded mixtures,
B's patch, enlarged 4 times, as a GIF (the clips' frames play) or a PNG (the last frame of each).
"""
from __future__ import annotations

from pathlib import Path

import torch

from .data.dataset import to_model
from .data.video import read_video
from .evaluation.latent import interpolation_steps
from .models import load_generator
from .models.gaia import GAIA
from .pictures import clip_grid, save_animation, save_png
from .prediction import check_writable

SUFFIXES = (".gif", ".png")
# Mixtures in a row at most: with A's and B's patches, 66 cells of 4 x 32 + 2 pixels, 8580 wide.
MAX_STEPS = 64

__all__ = ["MAX_STEPS", "SUFFIXES", "interpolate_videos", "patch_of"]


def patch_of(path: Path, model: GAIA, max_size: tuple[int, int]) -> torch.Tensor:
    """The centre ``patch``-square of the first ``model.frames`` frames of a video, ``(1, T, 3, P, P)``."""
    frames = read_video(path, max_size=max_size)
    if len(frames) < model.frames:
        raise ValueError(f"{path}: {len(frames)} frames, the model's samples hold {model.frames}")
    h, w = frames.shape[1:3]
    if min(h, w) < model.patch:
        raise ValueError(f"{path}: frames of {w}x{h} are smaller than the model's {model.patch}x{model.patch} patch")
    top, left = (h - model.patch) // 2, (w - model.patch) // 2
    return to_model(frames[None, :model.frames, top:top + model.patch, left:left + model.patch].copy())


def interpolate_videos(a: Path, b: Path, out: Path, model: Path, steps: int = 8,
                       max_size: tuple[int, int] = (240, 320)) -> str:
    """Writes the row of ``steps`` mixtures (both ends included) of videos ``a`` and ``b``'s codes
    to ``out`` (.gif or .png); returns the line that says what was written.

    Raises:
        ValueError, OSError, pyext.data.video.VideoError: one line naming the file at fault.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be an int in 2..{MAX_STEPS} (the mixtures of one row), got {steps!r}")
    if Path(out).suffix.lower() not in SUFFIXES:
        raise ValueError(f"{out}: the grid is written as .gif or .png, not {Path(out).suffix or 'no suffix'}")
    check_writable(out, inputs=(a, b, model))
    if not Path(model).is_file():
        raise FileNotFoundError(f"{model}: no such model file (train one with model.family: gaia, or pass --model)")
    gaia = load_generator(model)
    if not isinstance(gaia, GAIA):
        raise ValueError(f"{model}: a {gaia.family} model, which has no codes to interpolate "
                         f"(train one with model.family: gaia)")
    first, second = (patch_of(p, gaia, tuple(max_size)) for p in (a, b))
    with torch.no_grad():
        za, zb = gaia.encode(first), gaia.encode(second)
        mixed = [gaia.mix(za, zb, float(t)) for t in interpolation_steps(steps)]
    frames = clip_grid(torch.stack([first, *mixed, second], dim=1))  # one row: A, the mixtures, B
    if Path(out).suffix.lower() == ".gif":
        save_animation(out, frames)
    else:
        save_png(out, frames[-1])
    return f"{steps} mixtures of {gaia.frames}-frame {gaia.patch}x{gaia.patch} patches written to {out}"
