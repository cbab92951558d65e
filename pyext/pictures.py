"""Pictures of clips a person looks at: frames side by side, enlarged, with lines between them."""
from __future__ import annotations

import numpy as np
import torch

from .data.dataset import to_uint8


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
