"""How steady a video processed frame by frame is: the temporal warping error and the flicker on still
regions of processed frames ``T(x_t)``, each beside the same measure of the source frames ``x_t``
themselves (a translator's frames, :mod:`.translation`; any frame-by-frame processing).

- The warping error (Lai, Huang, Wang, Shechtman, Yumer & Yang 2018, "Learning Blind Video Temporal
  Consistency", eq. 9): per pair of consecutive frames, ``T(x_t)`` is warped onto frame t+1 by the
  optical flow of the SOURCE frames (a processing that kept the source's motion and added nothing of
  its own gives 0), and compared with ``T(x_{t+1})`` on the pixels the flow holds (not occluded:
  :func:`flow_mask`); the error of a video is the mean over its pairs. As their released evaluation
  computes it: frames on the [0, 1] scale, the squared difference summed over R, G and B, averaged
  over the unoccluded pixels (a squared error per value on the 0..255 scale is ``255^2 / 3`` times
  it). The flow is Farneback's (:func:`~.metrics.optical_flow`), theirs FlowNet 2.0's.
- The flicker: per pair, the mean absolute change ``|T(x_{t+1}) - T(x_t)|`` (0..255, per RGB value)
  on the pixels where the source is still (:func:`still_mask`): there nothing should change, and a
  frame-by-frame processing that changes it flickers; the mean over the pairs that have still pixels.

Frames are uint8 ``(T, H, W, 3)`` RGB.
"""
from __future__ import annotations

import numpy as np

from .metrics import optical_flow, warp

# A pixel is still where no channel changes by this much (0..255) from one source frame to the next:
# a video codec's noise on a still background stays below it, any motion of an edge exceeds it.
STILL_THRESHOLD = 3
# Forward-backward consistency (Sundaram, Brox & Keutzer 2010, as Ruder et al. 2016 and Lai et al.
# 2018 mask occlusions): a pixel is occluded where the flows disagree by more than this share of
# their squared lengths, plus a constant in squared pixels.
_CONSISTENCY_SHARE, _CONSISTENCY_PIXELS = 0.01, 0.5


def _check_frames(frames: np.ndarray, name: str) -> None:
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 2:
        shape = frames.shape if isinstance(frames, np.ndarray) else type(frames).__name__
        raise ValueError(f"{name} must be frames (T, H, W, 3) with T >= 2, got {shape}")


def source_flows(source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The optical flows between consecutive source frames ``(T, H, W, 3)``: forward (frame t to t+1)
    and backward (t+1 to t), float32 ``(T-1, H, W, 2)`` each, as (dx, dy):
    ``x_t(p + backward[t](p)) ~ x_{t+1}(p)``."""
    _check_frames(source, "source")
    forward = np.stack([optical_flow(a, b) for a, b in zip(source[:-1], source[1:])])
    backward = np.stack([optical_flow(b, a) for a, b in zip(source[:-1], source[1:])])
    return forward, backward


def flow_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """The pixels ``p`` of frame t+1 whose content the flow follows back to frame t: ``p +
    backward(p)`` lies inside the frame, and the forward flow there leads back to ``p`` (``|f + b|^2
    <= 0.01 (|f|^2 + |b|^2) + 0.5``, ``f`` the forward flow sampled at ``p + b(p)``); elsewhere the
    content is occluded or uncovered. ``forward``, ``backward`` ``(H, W, 2)`` -> bool ``(H, W)``.

    Example:
        >>> f = np.tile(np.float32([2, 0]), (4, 6, 1))  # everything moves 2 px right
        >>> flow_mask(f, -f).astype(int)[0].tolist()  # the first 2 columns came from outside
        [0, 0, 1, 1, 1, 1]
    """
    h, w = backward.shape[:2]
    x = np.arange(w, dtype=np.float32)[None, :] + backward[..., 0]
    y = np.arange(h, dtype=np.float32)[:, None] + backward[..., 1]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    there = warp(forward, backward)  # the forward flow at p + b(p)
    disagreement = ((there + backward) ** 2).sum(-1)
    scale = (there ** 2).sum(-1) + (backward ** 2).sum(-1)
    return inside & (disagreement <= _CONSISTENCY_SHARE * scale + _CONSISTENCY_PIXELS)


def warping_error(frames: np.ndarray, backward: np.ndarray, masks: np.ndarray) -> float:
    """Lai et al.'s warping error (the module docstring) of frames ``(T, H, W, 3)`` under the source's
    backward flows ``(T-1, H, W, 2)`` and unoccluded pixels ``masks`` bool ``(T-1, H, W)``
    (:func:`flow_mask`): the mean over pairs t of the mean over the masked pixels of
    ``sum_RGB (frames[t+1] - warp(frames[t], backward[t]))^2``, on the [0, 1] scale. A pair without
    an unoccluded pixel is left out; NaN where every pair is.

    Example:
        >>> x = np.zeros((2, 4, 6, 3), np.uint8); x[1] = 255  # the whole frame turns white
        >>> b = np.zeros((1, 4, 6, 2), np.float32)
        >>> warping_error(x, b, np.ones((1, 4, 6), bool))  # 3 channels, each a difference of 1
        3.0
    """
    _check_frames(frames, "frames")
    errors = []
    for t, mask in enumerate(masks):
        if mask.any():
            previous = warp(frames[t], backward[t]).astype(np.float64) / 255
            diff = frames[t + 1].astype(np.float64) / 255 - previous
            errors.append(float((diff ** 2).sum(-1)[mask].mean()))
    return float(np.mean(errors)) if errors else float("nan")


def still_mask(source: np.ndarray, threshold: int = STILL_THRESHOLD) -> np.ndarray:
    """Per pair of consecutive source frames ``(T, H, W, 3)``, the pixels where no channel changes by
    ``threshold`` or more (0..255): bool ``(T-1, H, W)``."""
    _check_frames(source, "source")
    change = np.abs(np.diff(source.astype(np.int16), axis=0)).max(-1)
    return change < threshold


def flicker(frames: np.ndarray, still: np.ndarray) -> float:
    """The mean absolute change (0..255, per RGB value) of frames ``(T, H, W, 3)`` from one to the next
    on the still pixels ``still`` bool ``(T-1, H, W)`` (:func:`still_mask` of their source), averaged
    over the pairs that have still pixels; NaN where none has.

    Example:
        >>> x = np.zeros((3, 2, 2, 3), np.uint8); x[1] += 4; x[2] += 6  # changes of 4, then 2
        >>> flicker(x, np.ones((2, 2, 2), bool))
        3.0
    """
    _check_frames(frames, "frames")
    change = np.abs(np.diff(frames.astype(np.int16), axis=0))  # (T-1, H, W, 3)
    means = [float(c[mask].mean()) for c, mask in zip(change, still) if mask.any()]
    return float(np.mean(means)) if means else float("nan")


def temporal_scores(source: np.ndarray, processed: np.ndarray) -> dict[str, float]:
    """The warping error and flicker of ``processed`` frames ``(T, H, W, 3)``, each frame the
    processing of the same frame of ``source`` (same shape), beside those of ``source`` itself, under
    the source's flows and still pixels.

    Returns:
        ``{"warping_error", "warping_error_source", "flicker", "flicker_source"}`` (NaN where no pixel
        qualifies).
    """
    _check_frames(processed, "processed")
    if source.shape != processed.shape:
        raise ValueError(f"source and processed frames must have one shape, got {source.shape} and {processed.shape}")
    forward, backward = source_flows(source)
    masks = np.stack([flow_mask(f, b) for f, b in zip(forward, backward)])
    still = still_mask(source)
    return {"warping_error": warping_error(processed, backward, masks),
            "warping_error_source": warping_error(source, backward, masks),
            "flicker": flicker(processed, still), "flicker_source": flicker(source, still)}


__all__ = ["STILL_THRESHOLD", "flicker", "flow_mask", "source_flows", "still_mask", "temporal_scores",
           "warping_error"]
