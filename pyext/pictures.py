"""Pictures of clips a person looks at: frames side by side, enlarged, with lines between them;
grids of clips as a PNG of their last frames and a GIF playing their frames."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data.dataset import to_uint8
from .data.files import atomic_output


def frame_grid(clips: torch.Tensor, zoom: int = 4) -> np.ndarray:
    """A picture of clips ``(B, T, 3, P, P)`` in [-1, 1]: one row per clip, its frames left to
    right, each enlarged ``zoom`` times, white lines between them.

    Returns:
        uint8 ``(B * (zoom P + 2), T * (zoom P + 2), 3)``.
    """
    frames = to_uint8(clips).repeat(zoom, axis=2).repeat(zoom, axis=3)  # (B, T, zP, zP, 3)
    frames = np.pad(frames, ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)), constant_values=255)
    b, t, h, w, c = frames.shape
    return frames.transpose(0, 2, 1, 3, 4).reshape(b * h, t * w, c)


def clip_grid(cells: torch.Tensor) -> list[Image.Image]:
    """Clips arranged in a grid, ``cells`` ``(R, C, T, 3, P, P)`` in [-1, 1] (R rows of C clips):
    per frame t, the picture of every cell's frame t (:func:`frame_grid` layout)."""
    return [Image.fromarray(frame_grid(cells[:, :, t])) for t in range(cells.shape[2])]


def save_png(path: str | os.PathLike, image: Image.Image) -> None:
    """Writes ``image`` as a PNG at ``path``, atomically."""
    with atomic_output(Path(path)) as tmp:
        image.save(tmp, format="PNG")


def save_gif(path: str | os.PathLike, frames: list[Image.Image], duration_ms: int = 200) -> None:
    """Writes ``frames`` as a looping GIF at ``path``, atomically."""
    with atomic_output(Path(path)) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
