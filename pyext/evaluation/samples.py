"""A generator from noise's images and the real frames they are measured against, shared by the
evaluate stage (:mod:`.generation`: frames of moving test patches) and the training loop's FID and
KID (:mod:`pyext.training.distances`: frames of the validation patches). Light on imports, so that
the train stage depends on little of the evaluation."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..data.dataset import to_uint8
from ..models import NoiseGenerator

BATCH = 256  # images a call of a generator or an extractor (bounds its memory)


def one_frame_each(clips: np.ndarray, seed: Sequence[int]) -> np.ndarray:
    """One frame of each clip of uint8 ``clips`` ``(N, T, H, W, 3)``: ``(N, H, W, 3)``, its index
    drawn per clip from ``seed`` (the frames of a patch are near-duplicates: one stands for it, as
    training judges one frame of each training patch).

    Example:
        >>> clips = np.arange(4 * 3, dtype=np.uint8).reshape(4, 3, 1, 1, 1)
        >>> one_frame_each(clips, [0, 1]).ravel() // 3 == np.arange(4)  # row i: a frame of clip i
        array([ True,  True,  True,  True])
    """
    frames = np.random.default_rng(list(seed)).integers(0, clips.shape[1], len(clips))
    return clips[np.arange(len(clips)), frames]


def generated(model: NoiseGenerator, z: torch.Tensor, labels: torch.Tensor | None = None) -> np.ndarray:
    """``model``'s images of latents ``z`` ``(N, latent)`` (of classes ``labels`` ``(N,)``, where
    conditioned), :data:`BATCH` at a time (:meth:`~pyext.models.NoiseGenerator.decode`), in its
    current mode: uint8 ``(N, S, S, 3)``."""
    return to_uint8(model.decode(z, labels, BATCH))


__all__ = ["BATCH", "generated", "one_frame_each"]
