"""Image quality metrics on uint8 frames (the 0..255 scale a viewer sees)."""
from __future__ import annotations

import numpy as np

PSNR_CAP = 100.0  # dB for identical frames (MSE 0), instead of infinity


def psnr(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """PSNR per clip, ``10 log10(255^2 / MSE)`` over all its pixels and channels, capped at
    :data:`PSNR_CAP`.

    Args:
        pred, truth: uint8 ``(N, ...)`` of the same shape.
    Returns:
        float64 ``(N,)``.

    Example:
        >>> a = np.zeros((2, 4, 4, 3), np.uint8); b = a.copy(); b[1] += 10
        >>> psnr(a, b).round(2)
        array([100.  ,  28.13])
    """
    if pred.shape != truth.shape:
        raise ValueError(f"pred and truth must have the same shape, got {pred.shape} and {truth.shape}")
    diff = pred.astype(np.float64) - truth.astype(np.float64)
    mse = (diff * diff).reshape(len(diff), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        value = 10 * np.log10(255.0 ** 2 / mse)
    return np.minimum(value, PSNR_CAP)
